import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Used client assertions (`store.consumeAssertion`). Optional: a store that does not serve it leaves each
/// host its own in-memory cache (file-store, the Python example); these tests then check only that it says so.
extension StoreConformanceTests {
    /// Nil when the store keeps no used assertions (sqlite-store and postgres-store must: `keepsUsedAssertions`).
    private func replayPool(_ store: StoreUnderTest, _ directory: TemporaryDirectory) async throws -> PluginPool? {
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        do {
            _ = try await pool.call(AssertionReplays.consume, ConsumeAssertionParams(clientID: "probe", tokenID: "probe", expiresAt: Int64(time(nil)) + 60))
            return pool
        } catch let PluginCallError.remote(_, error) where error.code == .methodNotFound {
            pool.shutdown()
            return nil
        }
    }

    @Test(arguments: StoreUnderTest.all.filter { $0.description == "sqlite-store" || $0.description == "postgres-store" })
    func keepsUsedAssertions(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        let pool = try await replayPool(store, directory)
        #expect(pool != nil, "\(store) serves store.consumeAssertion")
        pool?.shutdown()
    }

    private func consume(_ pool: PluginPool, _ client: String, _ jti: String, expiresAt: Int64) async throws -> ConsumeAssertionResult.Outcome {
        try await pool.call(AssertionReplays.consume, ConsumeAssertionParams(clientID: client, tokenID: jti, expiresAt: expiresAt)).outcome
    }

    @Test(arguments: StoreUnderTest.all)
    func aUsedAssertionIsReplayedUntilItExpiresAndPerClient(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        guard let pool = try await replayPool(store, directory) else { return }
        let now = Int64(time(nil))
        #expect(try await consume(pool, "prometheus", "jti-1", expiresAt: now + 600) == .fresh)
        #expect(try await consume(pool, "prometheus", "jti-1", expiresAt: now + 600) == .replayed)
        #expect(try await consume(pool, "prometheus", "jti-1", expiresAt: now + 900) == .replayed, "a later exp is the same jti")
        // jtis are per client (RFC 7519 §4.1.7: unique per issuer, and each client is its own issuer).
        #expect(try await consume(pool, "other-client", "jti-1", expiresAt: now + 600) == .fresh)
        // An entry that expired no longer counts: the client may use the jti again.
        #expect(try await consume(pool, "prometheus", "jti-old", expiresAt: now - 1) == .fresh)
        #expect(try await consume(pool, "prometheus", "jti-old", expiresAt: now + 600) == .fresh)
        #expect(try await consume(pool, "prometheus", "jti-old", expiresAt: now + 600) == .replayed)
        // A 256-byte jti is kept whole: one differing in its last byte is another id.
        let long = String(repeating: "j", count: 255)
        #expect(try await consume(pool, "prometheus", long + "a", expiresAt: now + 600) == .fresh)
        #expect(try await consume(pool, "prometheus", long + "b", expiresAt: now + 600) == .fresh)
        #expect(try await consume(pool, "prometheus", long + "a", expiresAt: now + 600) == .replayed)
        // Durable: a restarted store process (a restarted host) still knows every use.
        pool.shutdown()
        let again = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { again.shutdown() }
        #expect(try await consume(again, "prometheus", "jti-1", expiresAt: now + 600) == .replayed, "forgotten across a restart")
        #expect(try await consume(again, "prometheus", "jti-2", expiresAt: now + 600) == .fresh)
    }

    /// Ids are bounded before anything is stored, and nobody keeps an entry for longer than an assertion lives.
    @Test(arguments: StoreUnderTest.all)
    func consumeAssertionRefusesUnboundedParams(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        guard let pool = try await replayPool(store, directory) else { return }
        defer { pool.shutdown() }
        let now = Int64(time(nil))
        let bad: [(String, JSONValue)] = [
            ("a 257-byte jti", ["clientId": "c", "jti": .string(String(repeating: "j", count: 257)), "expiresAt": .int(now + 60)]),
            ("an empty jti", ["clientId": "c", "jti": "", "expiresAt": .int(now + 60)]),
            ("a NUL in the jti", ["clientId": "c", "jti": "a\u{0}b", "expiresAt": .int(now + 60)]),
            ("a client id that is none", ["clientId": "../c", "jti": "j", "expiresAt": .int(now + 60)]),
            ("an entry kept for a year", ["clientId": "c", "jti": "j", "expiresAt": .int(now + 31_536_000)]),
            ("no expiresAt", ["clientId": "c", "jti": "j"]),
        ]
        for (what, params) in bad {
            do {
                _ = try await pool.call(Method<JSONValue, JSONValue>(AssertionReplays.consume.name), params)
                Issue.record("\(store): \(what) accepted")
            } catch let PluginCallError.remote(_, error) {
                #expect(error.code == .invalidParams, "\(store): \(what): \(error)")
            } catch {
                Issue.record("\(store): \(what): \(error)")
            }
        }
        #expect(try await consume(pool, "c", "j", expiresAt: now + 60) == .fresh, "none of them was recorded")
    }
}
