import PluginProtocol
import Testing
@testable import Host

/// Secretless clients whose keys are at a URL (`ClientRecord.jwksURI`, `store.setJwksUri`). A store that does
/// not serve `store.setJwksUri` does not keep the field (the protocol makes it optional): these tests then
/// check only that it says so.
extension StoreConformanceTests {
    static let keysURL = "https://keys.example.com/clients/a/jwks.json"

    private func withURLStore(_ store: StoreUnderTest, _ body: (PluginPool, TemporaryDirectory) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { pool.shutdown() }
        do {
            _ = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "nobody", jwksURI: nil))
            Issue.record("setting the jwks uri of a client that does not exist succeeded")
        } catch let PluginCallError.remote(_, error) where error.code == .methodNotFound {
            return  // Optional; this store keeps no jwks uris (the CLI refuses to register one with it).
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == .clientNotFound, "\(error)")
        }
        try await body(pool, directory)
    }

    @Test(arguments: StoreUnderTest.all)
    func aClientWithKeysAtAURLKeepsItAndHasNoSecret(store: StoreUnderTest) async throws {
        try await withURLStore(store) { pool, directory in
            var client = Fixtures.client("at-url")
            client.jwksURI = Self.keysURL
            let created = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: nil)).client
            #expect(created.jwksURI == Self.keysURL && created.publicKeys.isEmpty && created.secrets.isEmpty)
            #expect(created.authenticationMethod == "private_key_jwt")
            for secret in ["", Fixtures.secret] {
                let result = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "at-url", secret: secret))
                #expect(!result.authenticated)
            }
            let fetched = try #require(try await pool.call(ClientStore.get, ClientIDParams(clientID: "at-url")).client)
            #expect(fetched.jwksURI == Self.keysURL)
            // Replaced, then listed.
            let moved = "http://127.0.0.1:8443/jwks.json"
            let replaced = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "at-url", jwksURI: moved)).client
            #expect(replaced.jwksURI == moved)
            let listed = try await pool.call(ClientStore.list, ListClientsParams()).clients
            #expect(listed.first { $0.id == "at-url" }?.jwksURI == moved)
            // A client with registered keys changes over to a URL in one step: the keys go.
            var keyed = Fixtures.client("keyed-then-url")
            keyed.publicKeys = [Self.edKey]
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: keyed, secret: nil))
            let switched = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "keyed-then-url", jwksURI: Self.keysURL)).client
            #expect(switched.jwksURI == Self.keysURL && switched.publicKeys.isEmpty)
            // Dropped, then a key added: back to a registered key.
            let dropped = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "keyed-then-url", jwksURI: nil)).client
            #expect(dropped.jwksURI == nil && dropped.authenticationMethod == "client_secret" && dropped.secrets.isEmpty)
            let back = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "keyed-then-url", key: Self.edKey)).client
            #expect(back.jwksURI == nil && back.publicKeys.map(\.keyID) == ["ed-1"])
            // Kept across a restart of the store.
            pool.shutdown()
            let reopened = try PluginTestSupport.startPool(store.spec(in: directory.path))
            defer { reopened.shutdown() }
            let again = try #require(try await reopened.call(ClientStore.get, ClientIDParams(clientID: "at-url")).client)
            #expect(again.jwksURI == moved && again.publicKeys.isEmpty)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func jwksURIsThatBreakTheRulesAreRefused(store: StoreUnderTest) async throws {
        try await withURLStore(store) { pool, _ in
            var client = Fixtures.client("url-rules")
            client.jwksURI = Self.keysURL
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: nil))
            for bad in ["http://keys.example.com/jwks.json", "https://user:pw@keys.example.com/jwks.json", "https://keys.example.com/j#x",
                        "ftp://keys.example.com/jwks.json", "keys.example.com/jwks.json", "https://", "https://a b/",
                        "https://keys.example.com/" + String(repeating: "a", count: 1100), "http://10.0.0.1/jwks.json"]
            {
                await expectRemoteError(.invalidClient, "set \(bad.prefix(60))") {
                    _ = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "url-rules", jwksURI: bad))
                }
                await expectRemoteError(.invalidClient, "create with \(bad.prefix(60))") {
                    var other = Fixtures.client("bad-url")
                    other.jwksURI = bad
                    _ = try await pool.call(ClientStore.create, CreateClientParams(client: other, secret: nil))
                }
            }
            await expectRemoteError(.invalidClient, "a jwks uri and registered keys at once") {
                var both = Fixtures.client("both-kinds")
                both.jwksURI = Self.keysURL
                both.publicKeys = [Self.edKey]
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: both, secret: nil))
            }
            await expectRemoteError(.invalidParams, "a jwks uri and a secret at once") {
                var both = Fixtures.client("url-and-secret")
                both.jwksURI = Self.keysURL
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: both, secret: Fixtures.secret))
            }
            await expectRemoteError(.invalidParams, "a registered key for a client with a jwks uri") {
                _ = try await pool.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "url-rules", key: Self.edKey))
            }
            await expectRemoteError(.invalidParams, "a secret for a client with a jwks uri") {
                _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: "url-rules", secret: Fixtures.secret, graceSeconds: 0))
            }
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("has-secret"), secret: Fixtures.secret))
            await expectRemoteError(.invalidParams, "a jwks uri for a client with a secret") {
                _ = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "has-secret", jwksURI: Self.keysURL))
            }
            await expectRemoteError(.clientNotFound, "a jwks uri for nobody") {
                _ = try await pool.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: "nobody", jwksURI: Self.keysURL))
            }
            let unchanged = try #require(try await pool.call(ClientStore.get, ClientIDParams(clientID: "url-rules")).client)
            #expect(unchanged.jwksURI == Self.keysURL)
        }
    }
}
