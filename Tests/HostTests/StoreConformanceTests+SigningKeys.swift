import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Hosts' public signing keys (`HostSigningKeys`). Optional: a store that does not serve
/// `store.signingKeys` keeps none (fine for a single host); these tests then check only that it says so.
extension StoreConformanceTests {
    static func hostKey(_ id: String, notAfter: Int64, x: String = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") -> HostPublicKey {
        HostPublicKey(keyID: id, algorithm: "EdDSA", jwk: ["kty": "OKP", "crv": "Ed25519", "x": x], notBefore: 1_000, notAfter: notAfter)
    }

    /// Nil when the store keeps no signing keys.
    private func signingKeyPool(_ store: StoreUnderTest, _ directory: TemporaryDirectory) async throws -> PluginPool? {
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        do {
            _ = try await pool.call(HostSigningKeys.list, Empty())
            return pool
        } catch let PluginCallError.remote(_, error) where error.code == .methodNotFound {
            pool.shutdown()
            return nil
        }
    }

    private func refuses(_ pool: PluginPool, _ keys: [HostPublicKey], _ what: String) async {
        do {
            _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: keys))
            Issue.record("\(what): accepted")
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == .invalidParams, "\(what): \(error)")
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func publishedSigningKeysAreUpsertedByKidAndExpire(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        guard let pool = try await signingKeyPool(store, directory) else { return }
        defer { pool.shutdown() }
        let now = Int64(time(nil))
        let first = Self.hostKey("host-a.1", notAfter: now + 3_600)
        let second = Self.hostKey("host-b.1", notAfter: now + 3_600, x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
        _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [first]))
        _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [second]))
        #expect(try await pool.call(HostSigningKeys.list, Empty()).keys == [first, second], "every host's keys, by kid")
        // The same kid again replaces the entry (a republication moves notAfter on): no duplicate.
        var later = first
        later.notAfter = now + 7_200
        _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [later]))
        _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [later]))
        #expect(try await pool.call(HostSigningKeys.list, Empty()).keys == [later, second])
        // Past notAfter an entry is gone, whoever published it.
        var expired = second
        expired.notAfter = now - 1
        expired.notBefore = now - 10
        _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [expired]))
        #expect(try await pool.call(HostSigningKeys.list, Empty()).keys == [later])
    }

    @Test(arguments: StoreUnderTest.all)
    func aStoreRefusesPrivateMembersAndBadKids(store: StoreUnderTest) async throws {
        let directory = TemporaryDirectory()
        guard let pool = try await signingKeyPool(store, directory) else { return }
        defer { pool.shutdown() }
        let now = Int64(time(nil))
        for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            var key = Self.hostKey("leaky", notAfter: now + 60)
            key.jwk[member] = "c2VjcmV0"
            await refuses(pool, [key], "private member \(member)")
        }
        await refuses(pool, [Self.hostKey("a b", notAfter: now + 60)], "kid with a space")
        await refuses(pool, [Self.hostKey(String(repeating: "k", count: 129), notAfter: now + 60)], "129-byte kid")
        var symmetric = Self.hostKey("hs", notAfter: now + 60)
        symmetric.algorithm = "HS256"
        await refuses(pool, [symmetric], "a symmetric algorithm")
        await refuses(pool, [Self.hostKey("twice", notAfter: now + 60), Self.hostKey("twice", notAfter: now + 60)], "one kid twice")
        #expect(try await pool.call(HostSigningKeys.list, Empty()).keys.isEmpty, "nothing refused was kept")
    }

    /// The host checks the store's answer too: a key with a private member is refused, not installed.
    @Test func theHostRefusesAListedKeyWithPrivateMembers() {
        var entry = Self.hostKey("leaky", notAfter: 2_000).json
        entry = .object((entry.objectValue?.dictionary ?? [:]).merging(["jwk": ["kty": "OKP", "crv": "Ed25519", "x": "eA", "d": "c2VjcmV0"]]) { $1 })
        #expect(throws: JSONShapeError.self) { try SigningKeysResult(json: ["keys": [entry]]) }
        #expect(throws: JSONShapeError.self) { try SigningKeysResult(json: ["keys": [Self.hostKey("ok", notAfter: 900).json]]) }
    }
}
