import Glibc
import PluginProtocol
import Synchronization

/// The token codec in force. The signing-key file is re-read when it changes (`gatehouse keys rotate`), so
/// a rotation reaches a running host without a restart; a broken file keeps the last good keys.
///
/// It also remembers tokens whose signature and claims it has verified, keyed by the whole token text, so a
/// client presenting the same token again (Prometheus does, every scrape, for an hour) costs a lookup instead
/// of base64, JSON and HMAC: that verification was over half of a protected request's instructions. Only the
/// time-independent part is remembered; expiry is checked every time, and revocation, the client's state and
/// the policy are checked by the callers every time. The memory is dropped with the keys it was checked
/// against, and entries leave when their token expires.
public final class TokenCodecSource: Sendable {
    private struct State {
        var codec: TokenCodec
        var identity: [Int64]?
        var verified: [String: AccessToken] = [:]
        /// Counts reloads, so a verification that raced one is not remembered.
        var generation = 0
    }
    private let state: Mutex<State>
    private let directory: String
    private let logger: Logger
    private let maxVerified: Int

    init(codec: TokenCodec, directory: String, logger: Logger, maxVerified: Int = 10_000) {
        self.directory = directory
        self.logger = logger
        self.maxVerified = maxVerified
        state = Mutex(State(codec: codec, identity: Self.identity(directory)))
    }

    var current: TokenCodec { state.withLock { $0.codec } }

    /// `TokenCodec.verify` with the time-independent part remembered for tokens seen before.
    func verify(_ text: Substring, now: Int64) -> Result<AccessToken, TokenCodec.Rejection> {
        let key = String(text)
        let (codec, generation, known) = state.withLock { ($0.codec, $0.generation, $0.verified[key]) }
        if let known { return codec.checkTimes(known, now: now) }
        let outcome = codec.verifySignedClaims(text)
        if case .success(let token) = outcome, now < token.expiresAt {
            state.withLock { state in
                guard state.generation == generation else { return }  // Checked against keys since replaced.
                if state.verified.count >= maxVerified { state.verified = state.verified.filter { now < $0.value.expiresAt } }
                if state.verified.count >= maxVerified { state.verified.removeAll(keepingCapacity: true) }
                state.verified[key] = token
            }
        }
        return outcome.flatMap { codec.checkTimes($0, now: now) }
    }

    /// How many verified tokens are remembered (for tests).
    var rememberedCount: Int { state.withLock { $0.verified.count } }

    /// Reloads the keys if the file changed; called periodically.
    func reloadIfChanged() {
        let identity = Self.identity(directory)
        guard state.withLock({ $0.identity != identity }) else { return }
        do {
            let keys = try SigningKeyRing.loadOrCreate(directory: directory, now: Int64(time(nil)))
            state.withLock { state in
                state.codec = TokenCodec(keys: keys, issuer: state.codec.issuer, audience: state.codec.audience)
                state.identity = identity
                state.verified = [:]  // Verified against keys that may be gone now.
                state.generation += 1
            }
            logger.info("signing keys reloaded", ["tokens.current_kid": .string(keys.currentID), "tokens.keys": .int(Int64(keys.keys.count))])
        } catch {
            state.withLock { $0.identity = identity }
            logger.error("signing key file is invalid; keeping the keys in use", ["error": .string(error.description)])
        }
    }

    private static func identity(_ directory: String) -> [Int64]? {
        var info = stat()
        guard stat(directory + "/signing-keys.json", &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
