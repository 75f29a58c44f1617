import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// The client's address through trusted proxies (`ClientAddress`), and the token endpoint's limits keyed on it.
@Suite struct ClientAddressTests {
    private let trusted = ["127.0.0.0/8", "10.0.0.0/8", "::1/128"].compactMap(IPNetwork.init)

    private func resolve(_ peer: String, _ headers: [(String, String)]) -> String {
        ClientAddress.resolve(peer: peer, headers: HTTPHeaders(headers), trustedProxies: trusted)
    }

    @Test func theRightmostUntrustedHopIsTheClient() {
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "192.0.2.1")]) == "192.0.2.1")
        // What a client sent itself is on the left; the proxy appended what it saw.
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "6.6.6.6, 192.0.2.1")]) == "192.0.2.1")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "6.6.6.6, 192.0.2.1, 10.0.0.2")]) == "192.0.2.1", "proxy chains")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "192.0.2.1")]) == "192.0.2.1",
                "several header lines are one list")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "10.0.0.3, 10.0.0.2")]) == "10.0.0.3", "all trusted: the farthest hop")
        #expect(resolve("127.0.0.1", []) == "127.0.0.1")
    }

    @Test func headersFromAnUntrustedPeerAreIgnored() {
        #expect(resolve("198.51.100.7", [("X-Forwarded-For", "192.0.2.1")]) == "198.51.100.7")
        #expect(resolve("198.51.100.7", [("Forwarded", "for=192.0.2.1")]) == "198.51.100.7")
    }

    @Test func forwardedAndAddressForms() {
        #expect(resolve("127.0.0.1", [("Forwarded", #"for=6.6.6.6, for=192.0.2.60;proto=http;by=203.0.113.43"#)]) == "192.0.2.60")
        #expect(resolve("127.0.0.1", [("Forwarded", #"proto=https;For="[2001:DB8:cafe::17]:4711""#)]) == "2001:db8:cafe::17")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "192.0.2.1"), ("Forwarded", "for=192.0.2.9")]) == "192.0.2.1",
                "X-Forwarded-For first")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "192.0.2.1:5555")]) == "192.0.2.1")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "[2001:db8::1]:80")]) == "2001:db8::1")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "::ffff:192.0.2.1")]) == "192.0.2.1")
        // Not an address: the proxy that wrote it is the last hop known.
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "192.0.2.1, unknown")]) == "127.0.0.1")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", "192.0.2.1, unknown, 10.0.0.5")]) == "10.0.0.5")
        #expect(resolve("127.0.0.1", [("Forwarded", "for=_hidden")]) == "127.0.0.1")
        #expect(resolve("127.0.0.1", [("X-Forwarded-For", String(repeating: "10.0.0.1, ", count: 100) + "10.0.0.2")]) == "10.0.0.1")
    }

    /// Behind a proxy every request comes from the proxy: junk from one client must not lock the others out.
    @Test func junkBehindAProxyLimitsOnlyItsSender() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("good")
        func token(_ id: String, _ secret: String, from address: String) throws -> ParsedResponse {
            let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
            return try host.request("POST", "/api/v1/oauth/token",
                                    headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", basic),
                                              ("X-Forwarded-For", address)], body: "grant_type=client_credentials")
        }
        for index in 0..<35 { _ = try token("junk-\(index)", "x", from: "203.0.113.66") }
        #expect(try token("good", StoreFixtures.secret, from: "203.0.113.66").status == 429)
        #expect(try token("good", StoreFixtures.secret, from: "203.0.113.77").status == 200)
        #expect(host.sink.records.contains { $0.contains(#""oauth.reason":"rate_limited_address""#) && $0.contains("203.0.113.66") })
    }

    /// The same through a real nginx, as Docs/deployment.md configures it, with clients on their own loopback
    /// addresses, and the flooding one forging `X-Forwarded-For` to name its victim.
    @Test func realNginxInFront() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            throw TestFailure("nginx not found: install the Debian package 'nginx' (.ci/run does)")
        }
        let host = try TestGatehouse { config in
            config.trustedProxies = [IPNetwork("127.0.0.1")!]
            // A refill too slow to matter, so the last refusal does not depend on how fast curl runs here.
            config.rateLimits.perAddress.refillPerSecond = 0.001
        }
        defer { host.stop() }
        try await host.addClient("good")
        let directory = TemporaryDirectory()
        let port = try ServedGatehouse.freePort()
        let config = """
            worker_processes 1;
            daemon off;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory.path); proxy_temp_path \(directory.path); fastcgi_temp_path \(directory.path);
                uwsgi_temp_path \(directory.path); scgi_temp_path \(directory.path);
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://127.0.0.1:\(host.port);
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    }
                }
            }
            """
        try config.write(toFile: directory.path + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        nginx.arguments = ["-c", directory.path + "/nginx.conf", "-p", directory.path, "-e", directory.path + "/error.log"]
        nginx.standardError = FileHandle.nullDevice
        try nginx.run()
        defer {
            kill(nginx.processIdentifier, SIGTERM)
            nginx.waitUntilExit()
        }
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { (try? RawHTTPClient(port: port)) != nil })
        let url = "http://127.0.0.1:\(port)/api/v1/oauth/token"
        func status(_ id: String, _ secret: String, from address: String, extra: [String] = []) throws -> String {
            try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", address, "-u", "\(id):\(secret)",
                                             "-d", "grant_type=client_credentials"] + extra + [url])
        }
        #expect(try status("good", StoreFixtures.secret, from: "127.0.0.77") == "200")
        var flood: [String] = []
        for index in 0..<35 {
            flood.append(try status("junk-\(index)", "x", from: "127.0.0.66", extra: ["-H", "X-Forwarded-For: 127.0.0.77"]))
        }
        #expect(flood.first == "401" && flood.last == "429", "\(flood)")
        #expect(try status("good", StoreFixtures.secret, from: "127.0.0.77") == "200", "the forged header named the victim in vain")
        #expect(try status("good", StoreFixtures.secret, from: "127.0.0.88") == "200", "another client behind the same proxy")
        #expect(try status("good", StoreFixtures.secret, from: "127.0.0.66") == "429", "the flooding client is limited")
    }
}
