import PluginProtocol
import Testing
@testable import Host

/// Public keys of secretless clients (`ClientKeys`). A store that does not serve `store.addPublicKey` does
/// not keep keys (the protocol makes them optional): these tests then check only that it says so.
extension StoreConformanceTests {
    /// Public members of real keys (an Ed25519 and a P-256 key); the store checks shape, the host the math.
    static let edKey = PublicKeyInfo(keyID: "ed-1", algorithm: "EdDSA",
                                     jwk: ["kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"])
    static let ecKey = PublicKeyInfo(keyID: "ec-2", algorithm: "ES256",
                                     jwk: ["kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"])

    private func withKeyStore(_ store: StoreUnderTest, _ body: (PluginPool, TemporaryDirectory) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { pool.shutdown() }
        do {
            _ = try await pool.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: "nobody", keyID: "k"))
            Issue.record("removing a key of a client that does not exist succeeded")
        } catch let PluginCallError.remote(_, error) where error.code == .methodNotFound {
            return  // Keys are optional; this store keeps none (the host refuses to register keys with it).
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == .clientNotFound, "\(error)")
        }
        try await body(pool, directory)
    }

    /// Expects `body` to fail with the store error `code` (shared by the key and key-URL conformance files).
    func expectRemoteError(_ code: RPCErrorCode, _ what: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("\(what): expected error \(code), got success")
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == code, "\(what): \(error)")
        } catch {
            Issue.record("\(what): expected error \(code), got \(error)")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aClientWithKeysHasNoSecretAndKeepsItsKeys(store: StoreUnderTest) async throws {
        try await withKeyStore(store) { pool, directory in
            var client = Fixtures.client("secretless")
            client.publicKeys = [Self.edKey]
            let created = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: nil)).client
            #expect(created.secrets.isEmpty)
            #expect(created.publicKeys.map(\.keyID) == ["ed-1"] && created.publicKeys[0].jwk == Self.edKey.jwk)
            #expect(created.publicKeys[0].createdAt > 1_700_000_000)
            // No secret verifies for it, not even an empty one.
            for secret in ["", Fixtures.secret] {
                let result = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "secretless", secret: secret))
                #expect(!result.authenticated)
            }
            // Rotation: the second key beside the first, then the first removed.
            let both = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "secretless", key: Self.ecKey)).client
            #expect(both.publicKeys.map(\.keyID) == ["ed-1", "ec-2"])
            let fetched = try #require(try await pool.call(ClientStore.get, ClientIDParams(clientID: "secretless")).client)
            #expect(fetched.publicKeys.map(\.keyID) == ["ed-1", "ec-2"] && fetched.publicKeys[1].jwk == Self.ecKey.jwk)
            let listed = try await pool.call(ClientStore.list, ListClientsParams()).clients
            #expect(listed.first { $0.id == "secretless" }?.publicKeys.count == 2)
            let after = try await pool.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: "secretless", keyID: "ed-1")).client
            #expect(after.publicKeys.map(\.keyID) == ["ec-2"])
            // Kept across a restart of the store.
            pool.shutdown()
            let reopened = try PluginTestSupport.startPool(store.spec(in: directory.path))
            defer { reopened.shutdown() }
            let again = try #require(try await reopened.call(ClientStore.get, ClientIDParams(clientID: "secretless")).client)
            #expect(again.publicKeys.map(\.keyID) == ["ec-2"] && again.publicKeys[0].jwk == Self.ecKey.jwk)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func keyChangesThatWouldBreakAClientAreRefused(store: StoreUnderTest) async throws {
        try await withKeyStore(store) { pool, _ in
            var client = Fixtures.client("keyed")
            client.publicKeys = [Self.edKey]
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: nil))
            await expectRemoteError(.invalidClient, "a kid twice") {
                var duplicate = Self.ecKey
                duplicate.keyID = "ed-1"
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "keyed", key: duplicate))
            }
            await expectRemoteError(.invalidClient, "HS256") {
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "keyed", key: PublicKeyInfo(
                    keyID: "h", algorithm: "HS256", jwk: ["kty": "oct"])))
            }
            await expectRemoteError(.invalidClient, "kty that does not fit alg") {
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "keyed", key: PublicKeyInfo(
                    keyID: "r", algorithm: "RS256", jwk: Self.edKey.jwk)))
            }
            await expectRemoteError(.invalidParams, "the only key removed") {
                _ = try await pool.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: "keyed", keyID: "ed-1"))
            }
            await expectRemoteError(.invalidParams, "an unknown kid removed") {
                _ = try await pool.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: "keyed", keyID: "nope"))
            }
            await expectRemoteError(.invalidParams, "a secret for a client with keys") {
                _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "keyed", secret: Fixtures.secret, graceSeconds: 0))
            }
            await expectRemoteError(.invalidParams, "keys and a secret at once") {
                var both = Fixtures.client("both")
                both.publicKeys = [Self.edKey]
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: both, secret: Fixtures.secret))
            }
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("secretive"), secret: Fixtures.secret))
            await expectRemoteError(.invalidParams, "a key for a client with a secret") {
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "secretive", key: Self.edKey))
            }
            await expectRemoteError(.clientNotFound, "a key for nobody") {
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "nobody", key: Self.edKey))
            }
        }
    }

    @Test func aPrivateJWKMemberIsNotAKeyAStoreWillHold() throws {
        var json = Self.edKey.json
        if case .object(var members) = json, case .object(var jwk)? = members["jwk"] {
            jwk["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
            members["jwk"] = .object(jwk)
            json = .object(members)
        }
        #expect(throws: JSONShapeError.self) { try PublicKeyInfo(json: json) }
    }
}
