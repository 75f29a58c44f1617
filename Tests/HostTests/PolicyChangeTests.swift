import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// A policy edit reaches a running host at once: scope-rbac announces its reload (`invalidate`) and the host
/// drops the decisions it cached under the old rules, however long their `cacheTtlMs`.
@Suite struct PolicyChangeTests {
    /// A policy whose default role may hold `roleScopes`, and whose metrics route needs `metricsScope`; every
    /// decision may be cached for five minutes.
    private func policy(roleScopes: [String], metricsScope: String) -> String {
        let scopes = roleScopes.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"roles":{"default":{"scopes":["# + scopes + #"]}},"defaultRole":"default","cacheTtlMs":300000,"#
            + #""resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":[""# + metricsScope + #""]}]}"#
    }

    @Test func anEditedPolicyFileEndsCachedDecisionsAtOnce() async throws {
        let directory = TemporaryDirectory()
        let file = directory.path + "/policy.json"
        try policy(roleScopes: ["metrics", "other"], metricsScope: "metrics").write(toFile: file, atomically: true, encoding: .utf8)
        let host = try TestGatehouse(directory: directory) { config in
            config.policy.config = ["policyFile": .string(file), "reloadMs": 100]
        }
        defer { host.stop() }
        try await host.addClient("prom", scopes: ["metrics", "other"])
        let token = try host.token(id: "prom", scope: "metrics")  // The grant is now cached for five minutes,
        #expect(try host.metrics(token: token).status == 200)      // and so is this decision.

        // The role loses 'metrics', and the route needs 'other': neither cached answer may outlive the edit.
        try policy(roleScopes: ["other"], metricsScope: "other").write(toFile: file, atomically: true, encoding: .utf8)
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) { (try? host.metrics(token: token).status) == 403 }
        #expect(refused, "the host kept an authorize decision made under the old policy")
        let grant = try host.tokenRequest(id: "prom", secret: StoreFixtures.secret, form: "grant_type=client_credentials&scope=metrics")
        #expect(grant.status == 400 && grant.json["error"] == "invalid_scope", "the host kept a grant made under the old policy")
        #expect(try host.metrics(token: try host.token(id: "prom", scope: "other")).status == 200)
    }
}
