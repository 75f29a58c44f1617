import Foundation
import Glibc
import PluginProtocol
import StoreKit
import Testing
@testable import Host

/// Reusing store-approved authentications (`cacheTtlMs` in `store.authenticate`): what the store allows, what
/// the host keeps, and every way an entry must end.
@Suite struct CredentialCacheTests {
    typealias Fixtures = StoreFixtures

    // MARK: - The store's side: how long it lets the host reuse an answer

    private func service(authCache: Int64, now: Int64 = 1_800_000_000) throws -> (StoreService, MemoryStoreBackend) {
        let backend = MemoryStoreBackend()
        let service = StoreService(backend: backend, authCacheMilliseconds: authCache, now: { now })
        _ = try service.create(CreateClientParams(client: Fixtures.client("c"), secret: Fixtures.secret))
        return (service, backend)
    }

    @Test func aSuccessCarriesTheConfiguredTTLAndAFailureNone() throws {
        let (service, _) = try service(authCache: 5_000)
        let success = try service.authenticate(AuthenticateParams(clientID: "c", secret: Fixtures.secret))
        #expect(success.authenticated && success.cacheTTLMilliseconds == 5_000)
        #expect(success.json["cacheTtlMs"] == 5_000)
        let wrong = try service.authenticate(AuthenticateParams(clientID: "c", secret: Fixtures.otherSecret))
        #expect(!wrong.authenticated && wrong.cacheTTLMilliseconds == 0 && wrong.json["cacheTtlMs"] == nil)
        let (uncached, _) = try self.service(authCache: 0)
        let plain = try uncached.authenticate(AuthenticateParams(clientID: "c", secret: Fixtures.secret))
        #expect(plain.authenticated && plain.cacheTTLMilliseconds == 0 && plain.json["cacheTtlMs"] == nil)
    }

    @Test func aSecretInItsGracePeriodIsCachedNoLongerThanItLives() throws {
        let (service, _) = try service(authCache: 60_000)
        _ = try service.rotateSecret(RotateSecretParams(clientID: "c", secret: Fixtures.otherSecret, graceSeconds: 10))
        // The old secret expires in 10 s; with whole-second clocks, 9 s is the most that is safe.
        let old = try service.authenticate(AuthenticateParams(clientID: "c", secret: Fixtures.secret))
        #expect(old.authenticated && old.cacheTTLMilliseconds == 9_000)
        let new = try service.authenticate(AuthenticateParams(clientID: "c", secret: Fixtures.otherSecret))
        #expect(new.authenticated && new.cacheTTLMilliseconds == 60_000)
    }

    @Test func theTTLComesFromTheStoreConfigWithinBounds() throws {
        #expect(try StoreService.authCacheMilliseconds(config: [:]) == 5_000)
        #expect(try StoreService.authCacheMilliseconds(config: ["authCacheMs": 0]) == 0)
        #expect(try StoreService.authCacheMilliseconds(config: ["authCacheMs": 300_000]) == 300_000)
        for bad: JSONValue in [-1, 300_001, "5000", 1.5] {
            #expect(throws: RPCError.self) { try StoreService.authCacheMilliseconds(config: ["authCacheMs": bad]) }
        }
    }

    @Test func theResultRoundTripsThroughJSON() throws {
        let record = Fixtures.client("c")
        let result = AuthenticateResult.success(record, cacheTTLMilliseconds: 1_234)
        #expect(try AuthenticateResult(json: result.json) == result)
        // A store that says nothing of caching, or something nonsensical, is never cached.
        #expect(try AuthenticateResult(json: ["authenticated": true, "client": record.json]).cacheTTLMilliseconds == 0)
        #expect(try AuthenticateResult(json: ["authenticated": true, "client": record.json, "cacheTtlMs": -5]).cacheTTLMilliseconds == 0)
        #expect(try AuthenticateResult(json: ["authenticated": false, "reason": "wrong_secret", "cacheTtlMs": 5]).cacheTTLMilliseconds == 0)
    }

    // MARK: - The host's side

    @Test func theCacheMatchesOnlyTheSameSecretAndForgetsOnRequest() {
        let cache = CredentialCache()
        let success = AuthenticateResult.success(Fixtures.client("c"), cacheTTLMilliseconds: 60_000)
        let mac = cache.mac(of: Fixtures.secret)
        #expect(cache.mac(of: Fixtures.secret) == mac && cache.mac(of: Fixtures.otherSecret) != mac)
        #expect(!mac.contains(subsequence: Array(Fixtures.secret.utf8.prefix(8))))
        cache.store(clientID: "c", secretMAC: mac, result: success)
        #expect(cache.lookup(clientID: "c", secretMAC: mac) == success)
        #expect(cache.lookup(clientID: "c", secretMAC: cache.mac(of: Fixtures.otherSecret)) == nil)
        #expect(cache.lookup(clientID: "d", secretMAC: mac) == nil)
        cache.invalidate(["other"])
        #expect(cache.lookup(clientID: "c", secretMAC: mac) != nil)
        cache.invalidate(["c"])
        #expect(cache.lookup(clientID: "c", secretMAC: mac) == nil)
        cache.store(clientID: "c", secretMAC: mac, result: success)
        cache.invalidate([])
        #expect(cache.count == 0)
        // Nothing is kept without a TTL, or for a failure.
        cache.store(clientID: "c", secretMAC: mac, result: .success(Fixtures.client("c")))
        cache.store(clientID: "c", secretMAC: mac, result: .failure(.wrongSecret))
        #expect(cache.count == 0)
    }

    @Test func aStoreThatNeverAllowsCachingCostsNoMAC() {
        let cache = CredentialCache()
        let mac = cache.mac(of: Fixtures.secret)
        #expect(!cache.isInUse)
        cache.store(clientID: "c", secretMAC: mac, result: .success(Fixtures.client("c")))
        #expect(!cache.isInUse, "a success without a TTL switched the cache on")
        cache.store(clientID: "c", secretMAC: mac, result: .success(Fixtures.client("c"), cacheTTLMilliseconds: 1_000))
        #expect(cache.isInUse)
    }

    @Test func anEntryEndsAtItsTTL() {
        let cache = CredentialCache()
        let mac = cache.mac(of: Fixtures.secret)
        cache.store(clientID: "c", secretMAC: mac, result: .success(Fixtures.client("c"), cacheTTLMilliseconds: 50))
        #expect(cache.lookup(clientID: "c", secretMAC: mac) != nil)
        usleep(80_000)
        #expect(cache.lookup(clientID: "c", secretMAC: mac) == nil)
    }

    @Test func twoHostsNeverShareAKey() {
        #expect(CredentialCache().mac(of: Fixtures.secret) != CredentialCache().mac(of: Fixtures.secret))
    }

    // MARK: - End to end: the real host and sqlite-store

    @Test func repeatTokenRequestsSkipTheStoreButWrongSecretsNever() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("c")
        for _ in 0..<3 { _ = try host.token(id: "c") }
        #expect(try host.tokenRequest(id: "c", secret: Fixtures.otherSecret).status == 401)
        #expect(try host.tokenRequest(id: "c", secret: Fixtures.otherSecret).status == 401)
        let token = try host.token(id: "c")
        let body = try host.metrics(token: token).body
        // One store call for the first success, one per wrong secret; the other three came from the cache.
        #expect(body.metric(#"gatehouse_plugin_calls_total{plugin="store",method="store.authenticate",outcome="ok"}"#) == 3)
        #expect(body.metric("gatehouse_client_auth_cache_hits_total") == 3)
        #expect(body.metric(#"gatehouse_tokens_issued_total{client_id="c"}"#) == 4)
    }

    @Test func aChangeThroughTheStoreEndsTheCachedAuthenticationAtOnce() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("c")
        try await host.addClient("d")
        _ = try host.token(id: "c")
        _ = try host.token(id: "d")
        var disable = UpdateClientParams(clientID: "c")
        disable.enabled = false
        try await host.update(disable)
        // The store announces its own change before it answers: no window in which the cache still says yes.
        #expect(try host.tokenRequest(id: "c", secret: Fixtures.secret).status == 401)
        _ = try await host.gatehouse.store.call(ClientStore.rotateSecret,
                                                RotateSecretParams(clientID: "d", secret: Fixtures.otherSecret, graceSeconds: 0))
        #expect(try host.tokenRequest(id: "d", secret: Fixtures.secret).status == 401)
        #expect(try host.tokenRequest(id: "d", secret: Fixtures.otherSecret).status == 200)
    }

    @Test func aChangeByAnotherProcessEndsItWithinThePollInterval() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("c")
        _ = try host.token(id: "c")
        // Another process on the same database, as `gatehouse client disable` is.
        var spec = PluginSpec(name: "store", role: .store, command: PluginTestSupport.executable("gatehouse-sqlite-store"))
        spec.config = ["path": .string(host.directory.path + "/data/gatehouse.sqlite3")]
        let other = try PluginTestSupport.startPool(spec)
        defer { other.shutdown() }
        var disable = UpdateClientParams(clientID: "c")
        disable.enabled = false
        _ = try await other.call(ClientStore.update, disable)
        let refused = PluginTestSupport.eventually(timeout: .seconds(2)) {
            (try? host.tokenRequest(id: "c", secret: Fixtures.secret).status) == 401
        }
        #expect(refused, "the host kept authenticating a client disabled by another process")
    }

    @Test func aStoreThatDiesTakesTheCacheWithIt() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("c")
        _ = try host.token(id: "c")
        _ = try host.token(id: "c")
        let before = try host.metrics(token: try host.token(id: "c")).body
        let hits = try #require(before.metric("gatehouse_client_auth_cache_hits_total"))
        let pid = try #require(host.gatehouse.store.health.processes.first?.pid)
        kill(pid, SIGKILL)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) {
            host.gatehouse.store.health.restarts == 1 && host.gatehouse.store.health.isReady
        })
        // The first request after the restart goes to the new store process, not to the old cache.
        let token = try host.token(id: "c")
        let after = try host.metrics(token: token).body
        #expect(after.metric("gatehouse_client_auth_cache_hits_total") == hits)
    }
}

extension String {
    /// The value of the sample named exactly `series` in a Prometheus text page.
    func metric(_ series: String) -> Double? {
        for line in split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
