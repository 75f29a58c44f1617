import Glibc
import JOSE
import JSON
import Synchronization

/// The token codec in force. The signing-key file is re-read when it changes (`gatehouse keys rotate`), so
/// a rotation reaches a running host within a second; a broken file keeps the last good keys. The same
/// periodic call runs the key lifecycle (`SigningKeyRing.advanced`) and keeps the JWK Set response current.
///
/// It also remembers tokens whose signature and claims it has verified, keyed by the whole token text, so a
/// client presenting the same token again (Prometheus does, every scrape, for an hour) costs a lookup instead
/// of base64, JSON and a signature check: for RS256 or ES256 that check costs far more than the rest of the
/// request, and after first sight it costs nothing. Only the time-independent part is remembered; expiry is
/// checked every time, and revocation, the client's state and the policy are checked by the callers every
/// time. The memory is dropped with the keys it was checked against, and entries leave when their token expires.
public final class TokenCodecSource: Sendable {
    private struct State {
        var codec: TokenCodec
        var identity: [Int64]?
        /// Counts reloads. It is part of every remembered token's key, so a verification that raced a reload
        /// is never found again under the new keys.
        var generation = 0
        var jwks: HTTPResponse
    }
    private struct Verified: Hashable, Sendable {
        var generation: Int
        var text: String
    }
    private let state: Mutex<State>
    private let verified: ExpiringCache<Verified, AccessToken>
    private let directory: String
    private let logger: Logger
    /// Nil: the ring is only read (tests that build a codec by hand).
    private let policy: SigningKeyRing.Policy?

    init(codec: TokenCodec, directory: String, logger: Logger, maxVerified: Int = 10_000, policy: SigningKeyRing.Policy? = nil) {
        self.directory = directory
        self.logger = logger
        self.policy = policy
        verified = ExpiringCache(maxEntries: maxVerified)
        state = Mutex(State(codec: codec, identity: Self.identity(directory), jwks: JWKSet.response(codec.keys, extra: codec.extraKeys)))
    }

    var current: TokenCodec { state.withLock { $0.codec } }

    /// `GET /.well-known/jwks.json`, rebuilt only when the keys change.
    var jwksResponse: HTTPResponse { state.withLock { $0.jwks } }

    /// `TokenCodec.verify` with the time-independent part remembered for tokens seen before.
    func verify(_ text: Substring, now: Int64) -> Result<AccessToken, TokenCodec.Rejection> {
        let (codec, generation) = state.withLock { ($0.codec, $0.generation) }
        let key = Verified(generation: generation, text: String(text))
        if let known = verified.value(for: key) { return codec.checkTimes(known, now: now) }
        let outcome = codec.verifySignedClaims(text)
        if case .success(let token) = outcome { verified.store(token, for: key, ttl: .seconds(token.expiresAt - now)) }
        return outcome.flatMap { codec.checkTimes($0, now: now) }
    }

    /// How many verified tokens are remembered (for tests).
    var rememberedCount: Int { verified.count }

    /// Other hosts' public keys (from the store): verified here and served in the JWK Set beside ours.
    func setExtraKeys(_ keys: [PublishedKey]) {
        state.withLock { state in
            install(TokenCodec(keys: state.codec.keys, issuer: state.codec.issuer, audience: state.codec.audience, extraKeys: keys),
                    into: &state)
        }
        verified.removeAll()  // A key another host dropped must stop vouching for what it verified.
    }

    /// Runs the key lifecycle, then reloads the keys if the file changed; called every second.
    func reloadIfChanged() {
        let now = Int64(time(nil))
        let identity = Self.identity(directory)
        // Never on a deleted file: the lifecycle step would create a new ring and void every live token.
        if let policy, identity != nil, (try? current.keys.advanced(now: now, policy: policy)) != nil {
            do {
                _ = try SigningKeyFile.update(directory: directory, now: now, algorithm: policy.algorithm) { ring throws(SigningKeyRing.Failure) in
                    try ring.advanced(now: now, policy: policy)
                }
            } catch {
                logger.error("signing key lifecycle step failed; keeping the keys in use", ["error": .string(error.description)])
            }
            return reload(identity: Self.identity(directory), now: now)
        }
        reload(identity: identity, now: now)
    }

    private func reload(identity: [Int64]?, now: Int64) {
        guard state.withLock({ $0.identity != identity }) else { return }
        guard identity != nil else {
            // Deleted under a running host: new keys would void every live token without a word. Keep these.
            state.withLock { $0.identity = nil }
            logger.error("signing key file was deleted; keeping the keys in use. Restore it (or run `gatehouse keys rotate`): "
                         + "a restart without it creates new keys and every access token issued so far stops working",
                         ["tokens.key_file": .string(SigningKeyRing.path(in: directory))])
            return
        }
        do {
            let keys = try SigningKeyRing.loadOrCreate(directory: directory, now: now, algorithm: policy?.algorithm ?? .rs256)
            state.withLock { state in
                install(TokenCodec(keys: keys, issuer: state.codec.issuer, audience: state.codec.audience, extraKeys: state.codec.extraKeys),
                        into: &state)
                state.identity = identity
            }
            verified.removeAll()  // Verified against keys that may be gone now.
            logger.info("signing keys reloaded", ["tokens.current_kid": .string(keys.currentID),
                                                  "tokens.algorithm": .string(keys.current.algorithm.rawValue),
                                                  "tokens.keys": .int(Int64(keys.keys.count))])
        } catch {
            state.withLock { $0.identity = identity }
            logger.error("signing key file is invalid; keeping the keys in use", ["error": .string(error.description)])
        }
    }

    private func install(_ codec: TokenCodec, into state: inout State) {
        state.codec = codec
        state.jwks = JWKSet.response(codec.keys, extra: codec.extraKeys)
        state.generation += 1
    }

    private static func identity(_ directory: String) -> [Int64]? {
        var info = stat()
        guard stat(SigningKeyRing.path(in: directory), &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
