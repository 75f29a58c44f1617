import Foundation
import PluginProtocol
import Testing
@testable import Host

/// No secret or token issued during a run appears in any log line (the host's and every plugin's), any
/// error body, or the metrics output — across every endpoint and every way of getting a request wrong.
@Suite struct LogHygieneTests {
    @Test func noSecretOrTokenInErrorBodiesOrMetrics() async throws {
        let host = try TestGatehouse { $0.logLevel = .debug }
        defer { host.stop() }
        let secret = try await host.addClient("prom")
        let introspector = try await host.addClient("rs", scopes: ["introspect"], secret: StoreFixtures.otherSecret)
        let token = try host.token(id: "prom")
        let signature = String(token.split(separator: ".")[2])
        var exposed: [String] = []
        func check(_ response: ParsedResponse, _ what: String) {
            guard response.status >= 400 || what == "metrics" else { return }
            let text = response.body + response.headers.values.joined(separator: "\n")
            for needle in [secret, introspector, signature] where text.contains(needle) { exposed.append("\(what): \(response.status)") }
        }
        let form = [("Content-Type", "application/x-www-form-urlencoded")]
        let basic = "Basic " + Data("prom:\(secret)".utf8).base64EncodedString()
        let cases: [(String, String, String, [(String, String)], String)] = [
            ("token, wrong secret", "POST", "/api/v1/oauth/token", form + [("Authorization", "Basic " + Data("prom:\(secret)x".utf8).base64EncodedString())], "grant_type=client_credentials"),
            ("token, secret as id", "POST", "/api/v1/oauth/token", form, "grant_type=client_credentials&client_id=\(secret)&client_secret=\(secret)"),
            ("token, both methods", "POST", "/api/v1/oauth/token", form + [("Authorization", basic)], "grant_type=client_credentials&client_secret=\(secret)"),
            ("token, secret in query", "POST", "/api/v1/oauth/token?client_secret=\(secret)", form, "grant_type=client_credentials"),
            ("token, duplicate secret", "POST", "/api/v1/oauth/token", form, "grant_type=client_credentials&client_id=prom&client_secret=\(secret)&client_secret=\(secret)"),
            ("token, bad scope", "POST", "/api/v1/oauth/token", form + [("Authorization", basic)], "grant_type=client_credentials&scope=admin"),
            ("revoke, foreign", "POST", "/api/v1/oauth/revoke", form + [("Authorization", "Basic " + Data("rs:\(introspector)".utf8).base64EncodedString())], "token=\(token)"),
            ("introspect, not allowed", "POST", "/api/v1/oauth/introspect", form + [("Authorization", basic)], "token=\(token)"),
            ("bearer, tampered", "GET", "/api/v1/metrics", [("Authorization", "Bearer \(token)x")], ""),
            ("bearer, in query", "GET", "/api/v1/metrics?access_token=\(token)", [], ""),
            ("verify, tampered", "GET", "/api/v1/auth/verify", [("Authorization", "Bearer x\(token)"), ("X-Forwarded-Uri", "/api/v1/metrics")], ""),
            ("verify, no uri", "GET", "/api/v1/auth/verify", [("Authorization", "Bearer \(token)")], ""),
        ]
        for (what, method, target, headers, body) in cases {
            check(try host.request(method, target, headers: headers, body: body), what)
        }
        check(try host.metrics(token: token), "metrics")
        #expect(exposed.isEmpty, "secrets or tokens exposed in: \(exposed)")
        host.stop()
        for line in host.sink.records {
            for needle in [secret, introspector, signature] { #expect(!line.contains(needle), "exposed in log: \(line)") }
        }
    }

    @Test func noSecretOrTokenInAnyLogLine() async throws {
        let host = try TestGatehouse { $0.logLevel = .debug }
        defer { host.stop() }
        let secret = try await host.addClient("prom")
        var tokens: [String] = []
        tokens.append(try host.token(id: "prom"))
        tokens.append(try host.token(id: "prom", scope: "metrics"))
        _ = try host.tokenRequest(id: "prom", secret: StoreFixtures.otherSecret)
        _ = try host.tokenRequest(id: "prom", secret: secret, basic: false)
        _ = try host.tokenRequest(id: secret, secret: secret)
        for token in tokens {
            _ = try host.metrics(token: token)
            _ = try host.metrics(token: token + "tampered")
            _ = try host.request("GET", "/api/v1/metrics?access_token=\(token)")
        }
        _ = try host.request("POST", "/api/v1/oauth/token?client_secret=\(secret)", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                             body: "grant_type=client_credentials")
        host.stop()
        let logs = host.sink.records
        #expect(logs.count > 10)
        let signatures = tokens.map { String($0.split(separator: ".")[2]) }
        for line in logs {
            #expect(!line.contains(secret), "secret in: \(line)")
            for signature in signatures { #expect(!line.contains(signature), "token in: \(line)") }
            #expect(!line.contains("sha256-salted"), "verifier in: \(line)")
        }
    }
}
