import Foundation
import Glibc
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// One suite for every store plugin (STYLE.md §11): each test runs against each store in `StoreUnderTest.all`.
@Suite struct StoreConformanceTests {
    typealias Fixtures = StoreFixtures

    func withStore(_ store: StoreUnderTest, _ body: (PluginPool, TemporaryDirectory) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { pool.shutdown() }
        try await body(pool, directory)
    }

    private func expectError(_ code: RPCErrorCode, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected error \(code), got success")
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == code, "\(error)")
        } catch {
            Issue.record("expected error \(code), got \(error)")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func createThenGetRoundTrips(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            var client = Fixtures.client("prometheus-1", scopes: ["metrics", "metrics:read"])
            client.defaultScopes = ["metrics"]
            client.tokenLifetime = 600
            let created = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: Fixtures.secret)).client
            #expect(created.id == "prometheus-1")
            #expect(created.createdAt > 1_700_000_000 && created.updatedAt == created.createdAt)
            #expect(created.secrets.count == 1 && created.secrets[0].expiresAt == nil)
            let fetched = try #require(try await pool.call(ClientStore.get, ClientIDParams(clientID: "prometheus-1")).client)
            #expect(fetched.name == "Client prometheus-1")
            #expect(fetched.role == "scraper")
            #expect(fetched.allowedScopes == ["metrics", "metrics:read"])
            #expect(fetched.defaultScopes == ["metrics"])
            #expect(fetched.tokenLifetime == 600)
            #expect(fetched.enabled)
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "nobody")).client == nil)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func noVerifierOrSecretEverLeavesTheStore(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("c"), secret: Fixtures.secret))
            let answers: [JSONValue] = [
                try await pool.call(ClientStore.get, ClientIDParams(clientID: "c")).json,
                try await pool.call(ClientStore.list, ListClientsParams()).json,
                try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "c", secret: Fixtures.secret)).json,
            ]
            for answer in answers {
                let text = JSONWriter.string(answer)
                #expect(!text.contains("sha256"), "\(text)")
                #expect(!text.contains("verifier"), "\(text)")
                #expect(!text.contains(Fixtures.secret), "\(text)")
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func authenticationDecisions(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("app"), secret: Fixtures.secret))
            let good = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "app", secret: Fixtures.secret))
            #expect(good.authenticated && good.client?.id == "app")
            let wrong = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "app", secret: Fixtures.otherSecret))
            #expect(!wrong.authenticated && wrong.failure == "wrong_secret")
            let unknown = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "ghost", secret: Fixtures.secret))
            #expect(!unknown.authenticated && unknown.failure == "unknown_client")
            let prefix = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "app", secret: String(Fixtures.secret.dropLast())))
            #expect(!prefix.authenticated)
            _ = try await pool.call(ClientStore.update, { var p = UpdateClientParams(clientID: "app"); p.enabled = false; return p }())
            let disabled = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "app", secret: Fixtures.secret))
            #expect(!disabled.authenticated && disabled.failure == "disabled")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func refusesInvalidClientsAndWeakSecrets(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("taken"), secret: Fixtures.secret))
            await expectError(.clientExists) {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("taken"), secret: Fixtures.secret))
            }
            for bad in ["", "has space", "-leading", "slash/inside", String(repeating: "a", count: 129), "ünïcode"] {
                await expectError(.invalidClient) {
                    _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client(bad), secret: Fixtures.secret))
                }
            }
            await expectError(.invalidClient) {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("q", scopes: ["bad scope"]), secret: Fixtures.secret))
            }
            var notAllowed = Fixtures.client("d")
            notAllowed.defaultScopes = ["admin"]
            await expectError(.invalidClient) {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: notAllowed, secret: Fixtures.secret))
            }
            for weak in ["password", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "short-but-random-9F"] {
                await expectError(.weakSecret) {
                    _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("w"), secret: weak))
                }
            }
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "w")).client == nil)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func updateChangesOnlyWhatItNames(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("u"), secret: Fixtures.secret))
            var change = UpdateClientParams(clientID: "u")
            change.name = "Renamed"
            change.allowedScopes = ["metrics", "admin"]
            change.tokenLifetime = 120
            let updated = try await pool.call(ClientStore.update, change).client
            #expect(updated.name == "Renamed" && updated.role == "scraper")
            #expect(updated.allowedScopes == ["metrics", "admin"] && updated.defaultScopes == ["metrics"])
            #expect(updated.tokenLifetime == 120)
            var reset = UpdateClientParams(clientID: "u")
            reset.tokenLifetime = 0
            #expect(try await pool.call(ClientStore.update, reset).client.tokenLifetime == nil)
            var disable = UpdateClientParams(clientID: "u")
            disable.enabled = false
            let disabled = try await pool.call(ClientStore.update, disable).client
            #expect(!disabled.enabled && disabled.notBefore != nil)
            await expectError(.clientNotFound) { _ = try await pool.call(ClientStore.update, UpdateClientParams(clientID: "ghost")) }
            var invalid = UpdateClientParams(clientID: "u")
            invalid.defaultScopes = ["not-allowed"]
            await expectError(.invalidClient) { _ = try await pool.call(ClientStore.update, invalid) }
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "u")).client?.defaultScopes == ["metrics"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func deleteRemovesTheClient(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("gone"), secret: Fixtures.secret))
            #expect(try await pool.call(ClientStore.delete, ClientIDParams(clientID: "gone")).deleted)
            #expect(try await !pool.call(ClientStore.delete, ClientIDParams(clientID: "gone")).deleted)
            let answer = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "gone", secret: Fixtures.secret))
            #expect(!answer.authenticated && answer.failure == "unknown_client")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func everyCreationIsANewInstanceThatNoChangeAlters(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            var client = Fixtures.client("again")
            client.instance = "chosen-by-the-caller"
            let first = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: Fixtures.secret)).client
            let instance = try #require(first.instance, "the store must give every client an instance")
            #expect(instance != "chosen-by-the-caller" && ClientInstance.isValid(instance))
            var change = UpdateClientParams(clientID: "again")
            change.name = "renamed"
            change.enabled = false
            #expect(try await pool.call(ClientStore.update, change).client.instance == instance)
            _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "again", secret: Fixtures.otherSecret, graceSeconds: 0))
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "again")).client?.instance == instance)
            // Removed and created again under the same id (tokens of the first must not work for the second).
            _ = try await pool.call(ClientStore.delete, ClientIDParams(clientID: "again"))
            let second = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: Fixtures.secret)).client
            #expect(second.instance != nil && second.instance != instance)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func listPagesInIDOrder(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            let ids = (0..<25).map { String(format: "client-%02d", $0) }.shuffled()
            for id in ids {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client(id), secret: Fixtures.secret))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await pool.call(ClientStore.list, ListClientsParams(cursor: cursor, limit: 10))
                #expect(page.clients.count <= 10)
                seen += page.clients.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids.sorted())
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func rotationKeepsTheOldSecretForTheGracePeriod(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("r"), secret: Fixtures.secret))
            let rotated = try await pool.call(ClientStore.rotateSecret,
                                              RotateSecretParams(clientID: "r", secret: Fixtures.otherSecret, graceSeconds: 3600)).client
            #expect(rotated.secrets.count == 2)
            #expect(rotated.secrets.contains { $0.expiresAt != nil } && rotated.secrets.contains { $0.expiresAt == nil })
            for secret in [Fixtures.secret, Fixtures.otherSecret] {
                #expect(try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "r", secret: secret)).authenticated)
            }
            // Rotating again with no grace leaves only the newest secret.
            let third = "Mn3Bv5Cx7Zl9Kj1Hg3Fd5Sa7Qw9Er1Ty3Ui5Op7As9D"
            _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "r", secret: third, graceSeconds: 0))
            #expect(try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "r", secret: third)).authenticated)
            for old in [Fixtures.secret, Fixtures.otherSecret] {
                #expect(try await !pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "r", secret: old)).authenticated)
            }
            await expectError(.weakSecret) {
                _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "r", secret: "weak", graceSeconds: 0))
            }
            await expectError(.clientNotFound) {
                _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "ghost", secret: third, graceSeconds: 0))
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func notBeforeAndRevocations(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("n"), secret: Fixtures.secret))
            let marked = try await pool.call(ClientStore.setNotBefore, SetNotBeforeParams(clientID: "n", notBefore: 1_800_000_000)).client
            #expect(marked.notBefore == 1_800_000_000)
            let future = Int64(time(nil)) + 3600
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-1", clientID: "n", expiresAt: future))
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-1", clientID: "n", expiresAt: future))
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-2", clientID: "n", expiresAt: future))
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "expired", clientID: "n", expiresAt: 1000))
            let all = try await pool.call(ClientStore.revocations, RevocationsParams(after: 0))
            #expect(all.revocations.map(\.tokenID) == ["jti-1", "jti-2"])
            let first = try await pool.call(ClientStore.revocations, RevocationsParams(after: 0))
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-3", clientID: "n", expiresAt: future))
            let newer = try await pool.call(ClientStore.revocations, RevocationsParams(after: first.last))
            #expect(newer.revocations.map(\.tokenID) == ["jti-3"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func clientsSurviveAPluginRestart(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        let first = try PluginTestSupport.startPool(store.spec(in: directory.path))
        _ = try await first.call(ClientStore.create, CreateClientParams(client: Fixtures.client("kept"), secret: Fixtures.secret))
        first.shutdown()
        let second = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { second.shutdown() }
        #expect(try await second.call(ClientStore.authenticate, AuthenticateParams(clientID: "kept", secret: Fixtures.secret)).authenticated)
    }

    @Test(arguments: StoreUnderTest.all)
    func manyCallsInFlight(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            for index in 0..<10 {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("c\(index)"), secret: Fixtures.secret))
            }
            try await withThrowingTaskGroup(of: (Int, AuthenticateResult).self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let secret = index % 3 == 0 ? Fixtures.otherSecret : Fixtures.secret
                        return (index, try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "c\(index % 10)", secret: secret)))
                    }
                }
                var answered = 0
                for try await (index, result) in group {
                    answered += 1
                    #expect(result.authenticated == (index % 3 != 0))
                    if result.authenticated { #expect(result.client?.id == "c\(index % 10)") }
                }
                #expect(answered == 300)
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func hostileInputGetsErrorsNotCrashes(store: StoreUnderTest) async throws {
        try await withStore(store) { pool, _ in
            let huge = String(repeating: "x", count: 200_000)
            let unknown = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: huge, secret: huge))
            #expect(!unknown.authenticated)
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: huge)).client == nil)
            for params: JSONValue in [[:], ["clientId": 5], ["clientId": ["nested"]], ["clientId": nil], ["secret": "x"]] {
                let outcome = await withCheckedContinuation { continuation in
                    pool.call(method: ClientStore.authenticate.name, params: params) { continuation.resume(returning: $0) }
                }
                guard case .failure(.remote(_, let error)) = outcome else {
                    Issue.record("\(params) was accepted: \(outcome)")
                    continue
                }
                #expect(error.code == .invalidParams, "\(params): \(error)")
            }
            // Still serving after all that, in the same process.
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("after"), secret: Fixtures.secret))
            #expect(pool.health.restarts == 0)
        }
    }

    /// A store that lets the host reuse authentications (`cacheTtlMs`) must announce each change it makes
    /// before answering it, or the host would keep saying yes to a client it had just disabled.
    @Test(arguments: StoreUnderTest.all)
    func aStoreThatAllowsCachingAnnouncesItsChangesBeforeAnswering(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        let heard = Mutex<[[String]]>([])
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path)) { method, params in
            guard method == Lifecycle.invalidate.name, let ids = try? InvalidateParams(json: params).clientIDs else { return }
            heard.withLock { $0.append(ids) }
        }
        defer { pool.shutdown() }
        _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("c"), secret: Fixtures.secret))
        let result = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "c", secret: Fixtures.secret))
        guard result.cacheTTLMilliseconds > 0 else { return }  // Every call reaches this store: nothing to announce.
        let changes: [(String, () async throws -> Void)] = [
            ("update", { var change = UpdateClientParams(clientID: "c"); change.enabled = false
                         _ = try await pool.call(ClientStore.update, change) }),
            ("rotateSecret", { _ = try await pool.call(ClientStore.rotateSecret,
                                                       RotateSecretParams(clientID: "c", secret: Fixtures.otherSecret, graceSeconds: 0)) }),
            ("setNotBefore", { _ = try await pool.call(ClientStore.setNotBefore, SetNotBeforeParams(clientID: "c", notBefore: 1)) }),
            ("delete", { _ = try await pool.call(ClientStore.delete, ClientIDParams(clientID: "c")) }),
        ]
        for (name, change) in changes {
            heard.withLock { $0 = [] }
            try await change()
            // Notifications and answers share one ordered stream: by the time the answer is here, so is the news.
            #expect(heard.withLock { $0 }.contains { $0.isEmpty || $0.contains("c") }, "\(store): \(name) was not announced")
        }
    }

    /// The bundled stores watch for other processes' writes. A change made right after a store started must be
    /// announced too: sqlite-store used to take its baseline at the first poll, so a write in the first interval
    /// became the baseline and was never announced.
    @Test(arguments: StoreUnderTest.all.filter { $0.description == "sqlite-store" || $0.description == "file-store" })
    func aChangeByAnotherProcessRightAfterStartIsAnnounced(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        let spec = store.spec(in: directory.path, extraConfig: ["changePollMs": 1000, "reloadMs": 1000])
        let setup = try PluginTestSupport.startPool(spec)
        _ = try await setup.call(ClientStore.create, CreateClientParams(client: Fixtures.client("c"), secret: Fixtures.secret))
        setup.shutdown()
        let heard = Mutex(0)
        let watched = try PluginTestSupport.startPool(spec) { method, _ in
            if method == Lifecycle.invalidate.name { heard.withLock { $0 += 1 } }
        }
        defer { watched.shutdown() }
        let other = try PluginTestSupport.startPool(spec)
        defer { other.shutdown() }
        var disable = UpdateClientParams(clientID: "c")
        disable.enabled = false
        _ = try await other.call(ClientStore.update, disable)  // Well inside the watcher's first second.
        #expect(PluginTestSupport.eventually(timeout: .seconds(4)) { heard.withLock { $0 } > 0 },
                "\(store): a change made in the first polling interval was never announced")
    }

    @Test(arguments: StoreUnderTest.all)
    func invalidUTF8OnTheWireIsAParseErrorAndTheStoreCarriesOn(store: StoreUnderTest) throws {
        let directory = TemporaryDirectory()
        let spec = store.spec(in: directory.path)
        let session = try RawPluginSession(spec: spec)
        defer { session.close() }
        let initialize = RPCMessage.request(id: .int(1), method: "initialize",
            params: InitializeParams(protocolVersions: [1], config: spec.config, hostName: "test", hostVersion: "0", pluginName: "store").json)
        #expect(session.exchange(initialize.line())["result"] != nil)
        var bad = Array(#"{"jsonrpc":"2.0","id":2,"method":"store.get","params":{"clientId":""#.utf8)
        bad += [0xFF, 0xFE] + Array(#""}}"#.utf8) + [0x0A]
        let answer = session.exchange(bad)
        #expect(answer["error"]?["code"] == -32700, "\(answer)")
        let after = session.exchange(RPCMessage.request(id: .int(3), method: "store.get", params: ["clientId": "x"]).line())
        #expect(after["id"] == 3 && after["result"] != nil, "\(after)")
    }
}

/// Talks to a plugin process byte for byte, bypassing the supervisor, to send what a host never would.
final class RawPluginSession {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    init(spec: PluginSpec) throws {
        process.executableURL = URL(fileURLWithPath: spec.command)
        process.arguments = spec.arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Sends bytes and returns the next line the plugin writes, parsed.
    func exchange(_ bytes: [UInt8]) -> JSONValue {
        input.fileHandleForWriting.write(Data(bytes))
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first else { break }
            if first == 0x0A { break }
            line.append(first)
        }
        return (try? JSONParser.parse(line)) ?? .null
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
