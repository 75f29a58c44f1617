import Glibc
import JOSE
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// `AssertionVerifier` with `SharedAssertionReplays` against a scripted store: which assertions reach the store,
/// what its answers mean, and that every doubt fails closed.
@Suite struct SharedAssertionReplaysTests {
    struct Fixture {
        let store = ScriptedEndpoint(name: "store")
        let shared: SharedAssertionReplays
        let verifier: AssertionVerifier
        let signer: ClientAssertionTests.Signer
        let client: ClientRecord

        init() throws {
            shared = SharedAssertionReplays(store: store, logger: Logger(sink: MemoryLogSink()))
            verifier = AssertionVerifier(settings: .init(audiences: [ClientAssertionTests.tokenURL]), shared: shared)
            signer = ClientAssertionTests.Signer(key: try AsymmetricKey.generate(.edDSA), kid: "ed-1")
            client = ClientRecord(id: "prom", name: "prom", role: "", allowedScopes: ["metrics"], defaultScopes: ["metrics"],
                                  tokenLifetime: nil, enabled: true, createdAt: 0, updatedAt: 0, publicKeys: [signer.info])
        }

        /// The verdict, waited for on this thread (the scripted store answers synchronously).
        func verify(_ assertion: String) -> Result<String?, PluginCallError> {
            let box = Mutex<Result<String?, PluginCallError>?>(nil)
            verifier.verify(assertion, client: client, now: Int64(time(nil))) { outcome in box.withLock { $0 = outcome } }
            return box.withLock { $0 } ?? .failure(.timedOut(plugin: "store", method: "verify", after: .zero))
        }
    }

    @Test func onlyAssertionsNewToThisHostReachTheStoreAndItsReplayedIsARefusal() throws {
        let fixture = try Fixture()
        let seen = Mutex<Set<String>>([])
        fixture.store.answer(AssertionReplays.consume) { params in
            .success(ConsumeAssertionResult(seen.withLock { $0.insert(params.tokenID).inserted } ? .fresh : .replayed))
        }
        let first = try fixture.signer.assertion("prom")
        #expect(try fixture.verify(first).get() == nil)
        #expect(try fixture.verify(first).get() == "replayed_assertion")
        #expect(fixture.store.count(AssertionReplays.consume.name) == 1, "a replay on the same host costs no store call")
        let params = try #require(fixture.store.params(of: AssertionReplays.consume.name).first)
        #expect(params["clientId"]?.stringValue == "prom")
        #expect((params["expiresAt"]?.intValue ?? 0) > Int64(time(nil)) + 500, "kept until exp plus the skew")

        // Another host took this one: the store says replayed, and this host refuses it.
        let elsewhere = try fixture.signer.assertion("prom")
        let jti = try #require(ClientAssertion(elsewhere)?.tokenID)
        seen.withLock { _ = $0.insert(jti) }
        #expect(try fixture.verify(elsewhere).get() == "replayed_assertion")
        // A refused assertion never reaches the store.
        let expired = try fixture.signer.assertion("prom") { $0["exp"] = .int(Int64(time(nil)) - 600) }
        #expect(try fixture.verify(expired).get() == "expired")
        #expect(fixture.store.count(AssertionReplays.consume.name) == 2)
    }

    @Test func aStoreThatFailsOrAnswersNonsenseFailsTheRequestAndSpendsNothing() throws {
        let fixture = try Fixture()
        let answer = Mutex<Result<JSONValue, PluginCallError>>(.failure(.unavailable(plugin: "store", reason: "down")))
        fixture.store.answer(Method<ConsumeAssertionParams, JSONValue>(AssertionReplays.consume.name)) { _ in answer.withLock { $0 } }
        let assertion = try fixture.signer.assertion("prom")
        guard case .failure = fixture.verify(assertion) else { Issue.record("accepted while the store was down"); return }
        // Not spent: once the store answers, the same assertion is judged again, by the store.
        answer.withLock { $0 = .success(["outcome": "maybe"]) }
        guard case .failure(.invalidResult) = fixture.verify(assertion) else { Issue.record("an outcome that is neither was taken"); return }
        answer.withLock { $0 = .success(["outcome": "fresh"]) }
        #expect(try fixture.verify(assertion).get() == nil)
        #expect(fixture.store.count(AssertionReplays.consume.name) == 3)
    }

    /// -32601: the local cache alone, as before (file-store); asked again after the store changed.
    @Test func aStoreWithoutTheMethodLeavesTheLocalCache() throws {
        let fixture = try Fixture()
        let assertion = try fixture.signer.assertion("prom")
        #expect(try fixture.verify(assertion).get() == nil)
        #expect(try fixture.verify(assertion).get() == "replayed_assertion")
        #expect(try fixture.verify(try fixture.signer.assertion("prom")).get() == nil)
        #expect(fixture.store.count(AssertionReplays.consume.name) == 1, "asked once, then known not to keep them")
        fixture.shared.storeChanged()
        #expect(try fixture.verify(try fixture.signer.assertion("prom")).get() == nil)
        #expect(fixture.store.count(AssertionReplays.consume.name) == 2)
    }
}
