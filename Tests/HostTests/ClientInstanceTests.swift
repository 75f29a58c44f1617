import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// A token belongs to the client instance that received it, and a protected request is judged by what that
/// client may hold now: the served binary, clients changed with the CLI as an operator changes them.
@Suite(.serialized) struct ClientInstanceTests {
    private func token(_ host: ServedGatehouse, _ client: (id: String, secret: String), scope: String? = nil) throws -> String {
        var arguments = ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials"]
        if let scope { arguments += ["-d", "scope=\(scope)"] }
        let body = try runCommand("/usr/bin/curl", arguments + [host.url + "/api/v1/oauth/token"])
        guard let token = try JSONParser.parse(body)["access_token"]?.stringValue else { throw TestFailure("token request: \(body)") }
        return token
    }

    private func metrics(_ host: ServedGatehouse, _ token: String) throws -> ParsedResponse {
        try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")])
    }

    @Test func aRecreatedClientIDDoesNotReviveTheOldTokens() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let first = try host.addClient(name: "reporter", scopes: "metrics reports", extra: ["--id", "reporter"])
        let old = try token(host, first)
        #expect(try metrics(host, old).status == 200)
        try host.cli(["client", "remove", "reporter"])
        // Same id, fewer scopes, at once (within the same second as the old token, as a script would).
        let second = try host.addClient(name: "reporter", scopes: "metrics", extra: ["--id", "reporter"])
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, old).status) == 401 }
        #expect(refused, "a token of the removed client still works for the new one")
        let answer = try metrics(host, old)
        #expect(answer.status == 401 && answer.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true)
        let verify = try host.get("/api/v1/auth/verify", headers: [("Authorization", "Bearer \(old)"),
                                                                     ("X-Forwarded-Uri", "/api/v1/metrics")])
        #expect(verify.status == 401)
        // The new client's own tokens work.
        #expect(try metrics(host, try token(host, second)).status == 200)
    }

    @Test func narrowingAClientsScopesTakesEffectAtOnce() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let client = try host.addClient(name: "scraper", scopes: "metrics reports")
        let wide = try token(host, client, scope: "metrics reports")
        #expect(try metrics(host, wide).status == 200)
        try host.cli(["client", "update", client.id, "--scope", "reports", "--default-scope", "reports"])
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, wide).status) == 403 }
        #expect(refused, "a token keeps a scope its client may no longer hold")
        let verify = try host.get("/api/v1/auth/verify", headers: [("Authorization", "Bearer \(wide)"),
                                                                     ("X-Forwarded-Uri", "/api/v1/metrics")])
        #expect(verify.status == 403)
        // Widening again restores access: the token's own scopes were never changed, only judged.
        try host.cli(["client", "update", client.id, "--scope", "metrics reports"])
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, wide).status) == 200 })
    }
}
