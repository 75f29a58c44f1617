import Foundation
import PluginProtocol
import Testing
@testable import Host

/// The token and bearer paths against scripted plugin endpoints, in-process: fail-closed answers, cache hits
/// and misses, and the audit fields, without spawning a process (the process tier covers the real plugins).
@Suite struct InProcessAuthTests {
    let secret = StoreFixtures.secret

    @Test func aTokenIsIssuedAndAuditedWithItsFields() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret)
        auth.policyAllows()
        let response = auth.tokenRequest(id: "prom", secret: secret)
        #expect(response.status == 200)
        #expect(response.bodyJSON["scope"]?.stringValue == "metrics")
        let audit = try #require(auth.sink.objects.first { $0["audit"]?.stringValue == "token.issued" })
        #expect(audit["oauth.client_id"]?.stringValue == "prom")
        #expect(audit["oauth.scope"]?.stringValue == "metrics")
        #expect(audit["oauth.auth_method"]?.stringValue == "client_secret_basic")
        #expect(audit["net.peer"]?.stringValue == "192.0.2.7")
        #expect(audit["oauth.jti"]?.stringValue?.isEmpty == false)
        #expect(!auth.sink.records.contains { $0.contains(secret) })
    }

    @Test func everyStoreFailureFailsClosedWith503() throws {
        let failures: [PluginCallError] = [
            .timedOut(plugin: "store", method: "store.authenticate", after: .seconds(5)),
            .unavailable(plugin: "store", reason: "restarting"),
            .connectionLost(plugin: "store", reason: "crashed"),
            .remote(plugin: "store", error: RPCError(.storageFailure, "disk I/O error")),
        ]
        for failure in failures {
            let auth = try InProcessAuth()
            auth.store.answer(ClientStore.authenticate) { _ in .failure(failure) }
            auth.policyAllows()
            let response = auth.tokenRequest(id: "prom", secret: secret)
            #expect(response.status == 503, "\(failure)")
            #expect(response.bodyJSON["access_token"] == nil)
            #expect(auth.policy.count(Policy.grant.name) == 0, "no policy call after a failed authentication")
            let refused = try #require(auth.sink.objects.first { $0["audit"]?.stringValue == "token.refused" })
            #expect(refused["oauth.reason"]?.stringValue == "store_unavailable")
            #expect(refused["level"]?.stringValue == "warning")
        }
    }

    @Test func aPolicyFailureOrRefusalIssuesNoToken() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret)
        auth.policy.answer(Policy.grant) { _ in .failure(.timedOut(plugin: "policy", method: "policy.grant", after: .seconds(5))) }
        #expect(auth.tokenRequest(id: "prom", secret: secret).status == 503)
        auth.policy.answer(Policy.grant) { _ in .success(GrantResult(granted: false, scopes: [], reason: "not for you")) }
        let refused = auth.tokenRequest(id: "prom", secret: secret)
        #expect(refused.status == 400)
        #expect(refused.bodyJSON["error"]?.stringValue == "invalid_scope")
    }

    @Test func aWrongSecretIsInvalidClientAndNamesTheKnownClientOnly() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret)
        auth.policyAllows()
        #expect(auth.tokenRequest(id: "prom", secret: StoreFixtures.otherSecret).status == 401)
        #expect(auth.tokenRequest(id: "nobody", secret: secret).status == 401)
        let refusals = auth.sink.objects.filter { $0["audit"]?.stringValue == "token.refused" }
        #expect(refusals.count == 2)
        #expect(refusals.first?["oauth.client_id"]?.stringValue == "prom")
        #expect(refusals.last?["oauth.client_id"] == nil)
        #expect(refusals.last?["oauth.unknown_client_fingerprint"]?.stringValue?.isEmpty == false)
    }

    @Test func cachedAnswersSkipThePluginsUntilTheStoreSaysOtherwise() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret, cacheTTL: 60_000)
        auth.policyAllows(cacheTTL: 60_000)
        for _ in 0..<3 { #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200) }
        #expect(auth.store.count(ClientStore.authenticate.name) == 1, "hits after the first miss")
        #expect(auth.policy.count(Policy.grant.name) == 1)
        // A different secret is a different key: a miss, answered by the store (and refused).
        #expect(auth.tokenRequest(id: "prom", secret: StoreFixtures.otherSecret).status == 401)
        #expect(auth.store.count(ClientStore.authenticate.name) == 2)
        auth.directory.invalidate(["prom"])
        #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200)
        #expect(auth.store.count(ClientStore.authenticate.name) == 3, "a miss after the store's invalidate")
    }

    /// A store reads a client on one thread and hears of a change on another: an answer read before the change
    /// can reach the host after the store's `invalidate`. It serves its request, but must not be remembered, or
    /// the disabled client would authenticate from the cache for the rest of the entry's TTL.
    @Test func anAnswerOvertakenByAnInvalidateIsNotCached() throws {
        let auth = try InProcessAuth()
        let client = StoreFixtures.client("prom")
        let secret = self.secret
        let directory = auth.directory
        auth.store.answer(ClientStore.authenticate) { _ in
            directory.invalidate(["prom"])  // The invalidate arrives while this answer is on its way.
            return .success(.success(client, cacheTTLMilliseconds: 60_000))
        }
        auth.store.answer(ClientStore.get) { _ in
            directory.invalidate(["prom"])
            return .success(GetClientResult(client: client))
        }
        auth.policyAllows()
        #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200)
        #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200)
        #expect(auth.store.count(ClientStore.authenticate.name) == 2, "the overtaken answer was cached")
        // Once answers stop being overtaken, caching works as before.
        auth.storeKnows(client, secret: secret, cacheTTL: 60_000)
        for _ in 0..<2 { #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200) }
        #expect(auth.store.count(ClientStore.authenticate.name) == 3)
    }

    /// The same for the policy: a grant decided under the old rules and answered after the policy's `invalidate`.
    @Test func aDecisionOvertakenByAPolicyChangeIsNotCached() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret, cacheTTL: 60_000)
        let tokens = auth.tokens
        auth.policy.answer(Policy.grant) { params in
            tokens.invalidateDecisions()  // The rules changed while this decision was on its way.
            return .success(GrantResult(granted: true, scopes: params.client.defaultScopes, reason: "ok", cacheTTLMilliseconds: 60_000))
        }
        for _ in 0..<2 { #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200) }
        #expect(auth.policy.count(Policy.grant.name) == 2, "the overtaken decision was cached")
        auth.policyAllows(cacheTTL: 60_000)
        for _ in 0..<2 { #expect(auth.tokenRequest(id: "prom", secret: secret).status == 200) }
        #expect(auth.policy.count(Policy.grant.name) == 3)
    }

    @Test func aBearerTokenIsCheckedAndItsDecisionCached() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret)
        auth.policyAllows(cacheTTL: 60_000)
        let token = try #require(auth.tokenRequest(id: "prom", secret: secret).bodyJSON["access_token"]?.stringValue)
        for _ in 0..<3 {
            guard case .authorized(let who) = auth.protected(token: token) else {
                Issue.record("a valid token was refused")
                return
            }
            #expect(who.client.id == "prom")
        }
        #expect(auth.policy.count(Policy.authorize.name) == 1)
        guard case .refused(let tampered) = auth.protected(token: token + "x") else {
            Issue.record("a tampered token was accepted")
            return
        }
        #expect(tampered.status == 401)
    }

    @Test func aBearerCheckFailsClosedWhenThePolicyFails() throws {
        let auth = try InProcessAuth()
        auth.storeKnows(StoreFixtures.client("prom"), secret: secret)
        auth.policyAllows()
        let token = try #require(auth.tokenRequest(id: "prom", secret: secret).bodyJSON["access_token"]?.stringValue)
        auth.policy.answer(Policy.authorize) { _ in .failure(.connectionLost(plugin: "policy", reason: "crashed")) }
        guard case .refused(let response) = auth.protected(token: token) else {
            Issue.record("access granted while the policy was down")
            return
        }
        #expect(response.status == 503)
        // The store going away fails closed too, once the client record is no longer cached.
        auth.policyAllows()
        auth.store.answer(ClientStore.get) { _ in .failure(.unavailable(plugin: "store", reason: "restarting")) }
        auth.directory.invalidate([])
        guard case .refused(let storeDown) = auth.protected(token: token) else {
            Issue.record("access granted while the store was down")
            return
        }
        #expect(storeDown.status == 503)
    }
}
