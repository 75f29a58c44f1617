import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

@Suite struct ForwardAuthTests {
    static let policy = #"{"roles":{"default":{"scopes":["*"]}},"defaultRole":"default","resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":["metrics"]},{"name":"app","path":"/app/**","read":["app:read"],"write":["app:write"]}]}"#

    private func host(trusting proxies: [String]? = nil) throws -> TestGatehouse {
        let directory = TemporaryDirectory()
        try Self.policy.write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        return try TestGatehouse(directory: directory) { config in
            config.policy.config = ["policyFile": .string(directory.path + "/policy.json")]
            if let proxies { config.trustedProxies = proxies.compactMap(IPNetwork.init) }
        }
    }

    @Test func verifiesTheForwardedRequest() async throws {
        let host = try host()
        defer { host.stop() }
        try await host.addClient("reader", scopes: ["app:read"])
        let token = try host.token(id: "reader")
        func verify(_ method: String, _ uri: String, token: String?) throws -> ParsedResponse {
            var headers = [("X-Forwarded-Method", method), ("X-Forwarded-Uri", uri), ("X-Forwarded-Host", "app.example.com")]
            if let token { headers.append(("Authorization", "Bearer \(token)")) }
            return try host.request("GET", "/api/v1/auth/verify", headers: headers)
        }
        let allowed = try verify("GET", "/app/reports/7?x=1", token: token)
        #expect(allowed.status == 200)
        #expect(allowed.headers["x-gatehouse-client-id"] == "reader" && allowed.headers["x-gatehouse-scope"] == "app:read")
        let write = try verify("POST", "/app/reports", token: token)
        #expect(write.status == 403 && write.headers["www-authenticate"]?.contains(#"scope="app:write""#) == true)
        #expect(try verify("GET", "/elsewhere", token: token).status == 403)
        #expect(try verify("GET", "/app/x", token: nil).status == 401)
        let missingURI = try host.request("GET", "/api/v1/auth/verify", headers: [("Authorization", "Bearer \(token)")])
        #expect(missingURI.status == 400)
    }

    @Test func forwardedHeadersFromUntrustedPeersAreRefused() async throws {
        let host = try host(trusting: ["10.0.0.0/8"])
        defer { host.stop() }
        try await host.addClient("reader", scopes: ["app:read"])
        let response = try host.request("GET", "/api/v1/auth/verify", headers: [("Authorization", "Bearer \(try host.token(id: "reader"))"),
                                                                                 ("X-Forwarded-Uri", "/app/x")])
        #expect(response.status == 403)
    }

    @Test func networksMatchAddresses() {
        #expect(IPNetwork("10.0.0.0/8")!.contains("10.200.3.4"))
        #expect(!IPNetwork("10.0.0.0/8")!.contains("11.0.0.1"))
        #expect(IPNetwork("127.0.0.1")!.contains("127.0.0.1") && !IPNetwork("127.0.0.1")!.contains("127.0.0.2"))
        #expect(IPNetwork("127.0.0.0/8")!.contains("::ffff:127.0.0.9"))
        #expect(IPNetwork("::1/128")!.contains("::1") && !IPNetwork("::1/128")!.contains("::2"))
        #expect(IPNetwork("2001:db8::/32")!.contains("2001:db8:1::5"))
        #expect(!IPNetwork("2001:db8::/32")!.contains("10.0.0.1"))
        for bad in ["", "10.0.0.0/33", "nope", "1.2.3.4/-1", "::1/129"] { #expect(IPNetwork(bad) == nil, "\(bad)") }
    }

    /// nginx `auth_request` in front of a small upstream: the block of Docs/deployment.md itself, with plain
    /// HTTP on test ports in place of its `listen`/`ssl_` lines and ports 8080 and 9000.
    @Test func realNginxAuthRequest() async throws {
        let host = try host()
        defer { host.stop() }
        try await host.addClient("reader", scopes: ["app:read"])
        try await host.addClient("scraper", scopes: ["metrics"])
        let port = try ServedGatehouse.freePort()
        let upstream = try ServedGatehouse.freePort()
        let documented = try DocPage.block("Docs/deployment.md", "nginx", containing: "auth_request")
            .components(separatedBy: "\n")
            .filter { !$0.contains("ssl_certificate") }
            .map { $0.contains("listen 443 ssl;") ? "    listen 127.0.0.1:\(port);" : $0 }
            .joined(separator: "\n")
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(host.port)")
            .replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(upstream)")
        let nginx = try NginxUnderTest(servers: """
                server {
                    listen 127.0.0.1:\(upstream);
                    location / { return 200 "upstream: client=$http_x_gatehouse_client scope=$http_x_gatehouse_scope\\n"; }
                }
            \(documented)
            """, waitingFor: port)
        defer { nginx.stop() }
        let url = "http://127.0.0.1:\(port)/app/report"
        let allowed = try runCommand("/usr/bin/curl", ["-s", "-H", "Authorization: Bearer \(try host.token(id: "reader"))", url])
        #expect(allowed == "upstream: client=reader scope=app:read\n", "\(allowed)")
        func challenges(_ headers: String) -> [String] {
            headers.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("www-authenticate:") }
        }
        let noToken = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", url])
        #expect(noToken.hasPrefix("HTTP/1.1 401"), "\(noToken)")
        // RFC 6750 §3: one challenge; nginx copies the subrequest's header on 401, the config must not add it again.
        #expect(challenges(noToken) == [#"WWW-Authenticate: Bearer realm="gatehouse""#], "\(noToken)")
        let wrongScope = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-",
                                                          "-H", "Authorization: Bearer \(try host.token(id: "scraper"))", url])
        #expect(wrongScope.hasPrefix("HTTP/1.1 403"), "\(wrongScope)")
        #expect(challenges(wrongScope).count == 1 && challenges(wrongScope).first?.contains(#"error="insufficient_scope""#) == true,
                "\(wrongScope)")
        let post = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                                    "-H", "Authorization: Bearer \(try host.token(id: "reader"))", url])
        #expect(post == "403", "POST needs app:write")
    }
}
