import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Plugin answers that break the protocol's rules (Tests/Fixtures/test-plugin, `--hostile`): the host checks
/// every one and fails closed, and what a plugin writes never reaches a header or the audit log unchecked.
@Suite struct HostileAnswerTests {
    private func host(store hostile: String? = nil, policy: String? = nil, extra: [String] = []) throws -> TestGatehouse {
        try TestGatehouse { config in
            if let hostile {
                config.store.command = PluginTestSupport.executable("TestPlugin")
                config.store.arguments = ["--role", "store", "--hostile", hostile] + extra
            }
            if let policy {
                config.policy.command = PluginTestSupport.executable("TestPlugin")
                config.policy.arguments = ["--role", "policy", "--hostile", policy] + extra
            }
        }
    }

    /// RFC 6749 §5.2 / RFC 6750 §3: the only characters `error_description` may hold.
    private func isSafeDescription(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x20 || $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }

    private func noTokenIssued(_ host: TestGatehouse) -> Bool {
        !host.sink.objects.contains { $0["audit"] == "token.issued" }
    }

    @Test(arguments: ["disabled-client", "bad-client-id", "bad-client-scope", "other-client", "bad-failure-reason"])
    func aStoreAnswerThatBreaksTheRulesIssuesNoToken(mode: String) throws {
        let host = try host(store: mode)
        defer { host.stop() }
        let response = try host.tokenRequest(id: "guest", secret: StoreFixtures.secret)
        #expect(response.status == 503, "\(mode): \(response.status) \(response.body)")
        #expect(response.json["access_token"] == nil)
        #expect(noTokenIssued(host))
        #expect(host.sink.objects.contains { ($0["error"]?.stringValue ?? "").contains("invalid result") }, "\(mode): the violation is logged")
    }

    @Test func anHonestTestStoreIssuesTokens() throws {
        // The control: the same plugin without a broken rule works, so the refusals above are the checks'.
        let host = try host(store: "none")
        defer { host.stop() }
        let token = try host.token(id: "guest")
        #expect(try host.metrics(token: token).status == 200)
    }

    @Test(arguments: ["grant-bad-scope", "grant-beyond-allowed"])
    func aGrantOfInvalidOrUnallowedScopesIssuesNoToken(mode: String) async throws {
        let host = try host(policy: mode)
        defer { host.stop() }
        try await host.addClient("prom")
        let response = try host.tokenRequest(id: "prom", secret: StoreFixtures.secret)
        #expect(response.status == 503, "\(mode): \(response.status) \(response.body)")
        #expect(noTokenIssued(host))
    }

    @Test func aPolicysReasonIsMadeSafeBeforeItIsRepeated() async throws {
        let host = try host(policy: "grant-bad-reason")
        defer { host.stop() }
        try await host.addClient("prom")
        let refused = try host.tokenRequest(id: "prom", secret: StoreFixtures.secret)
        #expect(refused.status == 400 && refused.json["error"] == "invalid_scope")
        let description = refused.json["error_description"]?.stringValue ?? ""
        #expect(description.hasPrefix("no %22way%22 %5C %C2%A7") && isSafeDescription(description), "\(description)")
    }

    @Test func aDenialsRequiredScopesAndReasonCannotBreakTheChallenge() async throws {
        let badRequired = try host(policy: "deny-bad-required")
        defer { badRequired.stop() }
        try await badRequired.addClient("prom")
        let failed = try badRequired.metrics(token: try badRequired.token(id: "prom"))
        #expect(failed.status == 503, "a scope with a quote would break out of scope=\"…\": \(failed.headers)")
        #expect(failed.headers["www-authenticate"] == nil)

        let badReason = try host(policy: "deny-bad-reason")
        defer { badReason.stop() }
        try await badReason.addClient("prom")
        let denied = try badReason.metrics(token: try badReason.token(id: "prom"))
        #expect(denied.status == 403)
        #expect(denied.headers["www-authenticate"] == #"Bearer realm="gatehouse", error="insufficient_scope", scope="metrics""#)
        #expect(denied.headers["x-injected"] == nil)
        let description = denied.json["error_description"]?.stringValue ?? ""
        #expect(description.hasPrefix("denied %22here%22 %5C %C2%A7") && isSafeDescription(description), "\(description)")
    }

    @Test func aPluginCannotForgeAnAuditEvent() throws {
        let host = try host(policy: "none", extra: ["--stderr-audit"])
        defer { host.stop() }
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) {
            host.sink.objects.contains { $0["plugin.claimed_audit"] == "token.issued" }
        })
        let forged = host.sink.objects.filter { $0["msg"] == "token issued" }
        #expect(!forged.isEmpty && forged.allSatisfy { $0["audit"] == nil && $0["plugin.name"] == "policy" })
        #expect(noTokenIssued(host))
    }
}
