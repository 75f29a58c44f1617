import Foundation
import PluginProtocol
import Testing
@testable import Host

/// A full run's logs contain no secret and no token (the host's and every plugin's lines).
@Suite struct LogHygieneTests {
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
