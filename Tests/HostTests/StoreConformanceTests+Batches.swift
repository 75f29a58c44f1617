import PluginProtocol
import Testing
@testable import Host

/// Authentications in flight together: a store may look them up together (postgres-store answers what the host
/// sent while it waited on the database with one statement, PluginServer.registerBatch), and each still gets its
/// own answer, whatever its neighbours are.
extension StoreConformanceTests {
    /// What one request asks, and the answer it must get.
    private struct Case {
        var clientID: String
        var secret: String
        /// "ok" or a failure reason: more than one where stores may differ (a secret too long to be anyone's is
        /// not looked up by the Swift stores, so its client counts as unknown).
        var expected: Set<String>
    }

    @Test(arguments: StoreUnderTest.all)
    func authenticationsInFlightTogetherAreAnsweredEachOnItsOwn(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            for id in ["on-1", "on-2", "off"] {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client(id), secret: Fixtures.secret))
            }
            _ = try await pool.call(ClientStore.update, { var p = UpdateClientParams(clientID: "off"); p.enabled = false; return p }())
            let kinds = [
                Case(clientID: "on-1", secret: Fixtures.secret, expected: ["ok"]),
                Case(clientID: "nobody", secret: Fixtures.secret, expected: ["unknown_client"]),
                Case(clientID: "on-2", secret: Fixtures.otherSecret, expected: ["wrong_secret"]),
                Case(clientID: "off", secret: Fixtures.secret, expected: ["disabled"]),
                Case(clientID: "not a valid id!", secret: Fixtures.secret, expected: ["unknown_client"]),
                Case(clientID: "on-2", secret: Fixtures.secret, expected: ["ok"]),
                Case(clientID: "on-1", secret: String(repeating: "x", count: 5000), expected: ["wrong_secret", "unknown_client"]),
            ]
            // Repeats and neighbours of every kind, many in flight at once, in an order that is not periodic.
            let cases = (0..<400).map { kinds[($0 * 7 + $0 / 7) % kinds.count] }
            try await withThrowingTaskGroup(of: (Int, AuthenticateResult).self) { group in
                for (index, request) in cases.enumerated() {
                    group.addTask {
                        (index, try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: request.clientID, secret: request.secret)))
                    }
                }
                var answered = 0
                for try await (index, result) in group {
                    answered += 1
                    let request = cases[index]
                    #expect(request.expected.contains((result.authenticated ? "ok" : result.failure) ?? "none"), "\(request.clientID)")
                    if result.authenticated { #expect(result.client?.id == request.clientID) }
                }
                #expect(answered == cases.count)
            }
        }
    }
}
