import Dispatch
import Glibc
import JOSE
import PluginProtocol
import Synchronization

/// Shares public signing keys with the other hosts through the store (Docs/deployment.md, several hosts):
/// publishes this host's ring (`store.publishSigningKeys`) and installs every other host's published keys as
/// extra verification keys, served in the JWK Set beside ours (`TokenCodecSource.setExtraKeys`).
///
/// Driven by the one-second maintenance tick: the ring is published when it changed (a rotation, a reload,
/// the lifecycle) and every `republish` seconds (rarely: a publication is a change every host hears of);
/// other hosts' keys are read at start, after a store
/// `invalidate` (a publication by another host changes the store, whose watcher announces it) and every
/// `refresh` seconds as a backstop. Private members are never sent nor accepted (`HostPublicKey`,
/// `PublishedKey`). A store without the methods (-32601) makes this a single host: nothing is shared, and
/// an HS256 ring has nothing to publish (several HS256 hosts share the key file instead).
final class SigningKeyExchange: Sendable {
    static let refresh: Int64 = 60
    static let republish: Int64 = 600

    private struct State {
        /// Nil until the store answered once; false: it keeps no signing keys.
        var supported: Bool?
        var publishedShape: [String]?
        var publishedAt: Int64 = 0
        var readPending = true
        var readAt: Int64 = 0
        var busy = false
        /// After a failed call: nothing is tried before this (a store that is down is not asked every second).
        var retryAt: Int64 = 0
        var installed: [HostPublicKey] = []
    }
    private let state = Mutex(State())
    private let codec: TokenCodecSource
    private let store: any PluginEndpoint
    private let maxTokenLifetime: Int64
    private let logger: Logger

    init(codec: TokenCodecSource, store: any PluginEndpoint, maxTokenLifetime: Int64, logger: Logger) {
        self.codec = codec
        self.store = store
        self.maxTokenLifetime = maxTokenLifetime
        self.logger = logger
    }

    /// The store changed (`invalidate` naming `clientIDs`, or its process came back): read the keys again. At
    /// once when the change may be a key (all clients, or `HostSigningKeys.changeSubject`): a host that joined
    /// or rotated signs with its key right away, so the others must not wait for their next tick to know it.
    func storeChanged(_ clientIDs: [String] = [], now: Int64) {
        state.withLock { $0.readPending = true }
        if clientIDs.isEmpty || clientIDs.contains(HostSigningKeys.changeSubject) { tick(now: now) }
    }

    /// Before the host serves: publishes this host's keys and installs the other hosts', waiting at most
    /// `timeout` for each. Without it a host that joins refuses the others' tokens (401) until its second tick,
    /// and Prometheus does not fetch a new token on a 401. A store that fails or is slow only delays the host:
    /// the ticks keep trying.
    func prepare(now: Int64, timeout: Duration) {
        for _ in 0..<2 {
            let finished = DispatchSemaphore(value: 0)
            tick(now: now) { finished.signal() }
            _ = finished.wait(timeout: .now() + .nanoseconds(Int(timeout.nanosecondsClamped)))
        }
        let shares = state.withLock { $0.supported == true }
        if shares, Self.publicKeys(of: codec.current.keys, now: now, maxTokenLifetime: maxTokenLifetime).isEmpty {
            logger.warning(Self.hs256Warning, ["tokens.other_hosts_keys": .int(Int64(state.withLock { $0.installed.count }))])
        }
    }

    /// An HS256 key verifies as well as signs, so it is never published (Docs/deployment.md, "Several hosts").
    static let hs256Warning = "this host signs with HS256, whose key is never published through the store: another host "
        + "sharing the store verifies its tokens only if it holds the same signing-keys.json (copy it; fine for a single host)"

    /// Called every second; at most one store call is in flight. `done` runs when this tick's call finished
    /// (at once if it made none).
    func tick(now: Int64, done: @escaping @Sendable () -> Void = {}) {
        let ring = codec.current.keys
        let own = Self.publicKeys(of: ring, now: now, maxTokenLifetime: maxTokenLifetime)
        let shape = own.map { "\($0.keyID) \($0.notBefore) \(ring.key(id: $0.keyID)?.retiredAt ?? 0)" }
        enum Step { case publish, read, none }
        let step: Step = state.withLock { state in
            guard !state.busy, state.supported != false, now >= state.retryAt else { return .none }
            if !own.isEmpty, state.publishedShape != shape || now - state.publishedAt >= Self.republish { state.busy = true; return .publish }
            if state.readPending || now - state.readAt >= Self.refresh { state.busy = true; state.readPending = false; return .read }
            return .none
        }
        switch step {
        case .none: return done()
        case .publish:
            store.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: own)) { [self] outcome in
                finish(outcome.map { _ in () }, now: now) { state in
                    state.publishedShape = shape
                    state.publishedAt = now
                }
                done()
            }
        case .read:
            store.call(HostSigningKeys.list, Empty()) { [self] outcome in
                // Installed before the call counts as done, so two reads never install out of order.
                if case .success(let result) = outcome {
                    // Never our own key, least of all one withdrawn here whose removal the store has not seen yet.
                    install(result.keys.filter { key in
                        ring.key(id: key.keyID) == nil && !ring.withdrawn.contains { $0.id == key.keyID } && key.notAfter > now
                    })
                }
                finish(outcome.map { _ in () }, now: now) { $0.readAt = now }
                done()
            }
        }
    }

    private func finish(_ outcome: Result<Void, PluginCallError>, now: Int64, _ done: (inout State) -> Void) {
        state.withLock { state in
            state.busy = false
            switch outcome {
            case .success:
                state.supported = true
                done(&state)
            case .failure(.remote(_, let error)) where error.code == .methodNotFound:
                if state.supported == nil { logger.info("the store keeps no signing keys: this host shares none (fine for a single host)") }
                state.supported = false
            case .failure(let error):
                state.readPending = true
                state.retryAt = now + 5
                logger.warning("cannot share signing keys through the store", ["error": .string(error.description)])
            }
        }
    }

    /// Hands other hosts' keys to the codec when they changed (installing drops remembered verifications).
    private func install(_ keys: [HostPublicKey]) {
        guard state.withLock({ state in
            guard state.installed != keys else { return false }
            state.installed = keys
            return true
        }) else { return }
        var published: [PublishedKey] = []
        for key in keys {
            var jwk = key.jwk.mapValues { JSONValue.string($0) }
            jwk["kid"] = .string(key.keyID)
            jwk["alg"] = .string(key.algorithm)
            do { published.append(try PublishedKey(jwk: .object(jwk))) } catch {
                logger.warning("ignoring a published signing key that does not parse", ["tokens.kid": .string(key.keyID), "error": .string("\(error)")])
            }
        }
        codec.setExtraKeys(published)
        logger.info("other hosts' signing keys installed", ["tokens.extra_keys": .int(Int64(published.count))])
    }

    /// The public half of every asymmetric key in the ring. A key in use or next is published until two
    /// republications from now plus the longest token lifetime (republishing moves that on); a retired one until
    /// the last token it signed expires. A withdrawn key goes with a `notAfter` already past, which makes the
    /// store delete it (an upsert, then the purge of expired entries), and every other host drops it when it
    /// next reads the keys; the newest withdrawals go first, within the store's cap on one publication.
    static func publicKeys(of ring: SigningKeyRing, now: Int64, maxTokenLifetime: Int64) -> [HostPublicKey] {
        let live = liveKeys(of: ring, now: now, maxTokenLifetime: maxTokenLifetime)
        let withdrawn = ring.withdrawn.filter { !$0.publicJWK.isEmpty }.sorted { $0.withdrawnAt > $1.withdrawnAt }
            .prefix(max(0, HostSigningKeys.maxKeysPerPublish - live.count)).map { $0.publication(now: now) }
        return live + withdrawn
    }

    private static func liveKeys(of ring: SigningKeyRing, now: Int64, maxTokenLifetime: Int64) -> [HostPublicKey] {
        ring.keys.compactMap { key in
            guard case .asymmetric(let pair) = key.material, let members = try? pair.publicJWK() else { return nil }
            let notBefore = key.activatedAt ?? key.activateAt ?? key.createdAt
            let notAfter = max(notBefore + 1, key.retiredAt.map { $0 + maxTokenLifetime } ?? now + 2 * republish + maxTokenLifetime)
            return HostPublicKey(keyID: key.id, algorithm: key.algorithm.rawValue, jwk: members.filter { PublicKeyInfo.publicMembers.contains($0.key) },
                                 notBefore: notBefore, notAfter: notAfter)
        }
    }
}

extension SigningKeyRing.Withdrawal {
    /// What tells the store the key is withdrawn: the key with a `notAfter` already past, which the store
    /// upserts and then purges as expired, so no host lists it any more.
    func publication(now: Int64) -> HostPublicKey {
        HostPublicKey(keyID: id, algorithm: algorithm.rawValue, jwk: publicJWK,
                      notBefore: min(withdrawnAt, now) - 2, notAfter: min(withdrawnAt, now) - 1)
    }
}
