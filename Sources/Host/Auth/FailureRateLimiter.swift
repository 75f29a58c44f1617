import CryptoPrimitives
import Synchronization

/// Limits guessing of client secrets without letting a stranger lock a client out (Docs/deployment.md,
/// "Failure limits").
///
/// Three token buckets, and only failures take tokens; a request whose bucket is empty is refused (429) before
/// any store work:
/// - **per address**: failures from one source address (IPv6: its /64), for any client id. A guesser is stopped
///   whatever ids it tries; only that address is refused.
/// - **per client and address**: failures for one client id from one address. A guesser of one client is
///   stopped; the same client from other addresses is not affected.
/// - **per client** (a far higher ceiling): failures for one client id from everywhere, against guessing
///   spread over many addresses. When it is empty, only addresses that authenticated as that client recently
///   (`rememberSuccess`) go on to the store; strangers get 429. A botnet can keep a client's ceiling empty,
///   but that only refuses addresses the client has not used: the client's own hosts keep working.
///
/// An attempt is one secret tried: the same wrong secret sent again from the same address for the same client
/// within `retryWindow` (Go's x/oauth2 retries a failed Basic attempt at once with body credentials) is not a
/// new guess and is counted once, whatever the method. A different secret always counts, so alternating
/// methods buys nothing. Memory is bounded: full buckets are forgotten, and past `maxEntries` a table is
/// cleared (limits fail open for a moment rather than growing without bound).
public final class FailureRateLimiter: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Failures allowed at once; 0 turns the limit off.
        public var burst: Double
        /// Tokens regained per second.
        public var refillPerSecond: Double

        public init(burst: Double, refillPerSecond: Double) {
            self.burst = burst
            self.refillPerSecond = refillPerSecond
        }
    }

    public enum Verdict: Sendable, Equatable {
        case allowed
        /// `scope` names the bucket: `address`, `client_address` or `client`.
        case limited(scope: String, retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: MonotonicTime
    }

    private struct LastAttempt {
        var fingerprint: [UInt8]
        var at: MonotonicTime
    }

    private struct State {
        var limits: (perAddress: Limits, perClientAddress: Limits, perClient: Limits)
        var addresses: [String: Bucket] = [:]
        var pairs: [String: Bucket] = [:]
        var clients: [String: Bucket] = [:]
        var lastAttempt: [String: LastAttempt] = [:]
        /// (client, address) pairs that authenticated, and when they last did.
        var known: [String: MonotonicTime] = [:]
    }

    let retryWindow: Duration = .seconds(2)
    let rememberSuccess: Duration
    private let maxEntries: Int
    /// Limits live with the buckets, under one lock: a reload (SIGHUP) changes them, and buckets keep their fill
    /// and refill at the new rate from then on.
    private let state: Mutex<State>
    /// Fingerprints of tried secrets, to recognise a retry of the same one; the key never leaves the process.
    private let fingerprintKey: HMACKey

    public init(perAddress: Limits, perClientAddress: Limits, perClient: Limits, rememberSuccess: Duration = .seconds(86_400),
                maxEntries: Int = 100_000)
    {
        state = Mutex(State(limits: (perAddress, perClientAddress, perClient)))
        self.rememberSuccess = rememberSuccess
        self.maxEntries = maxEntries
        // Without randomness the fingerprints are still consistent within the process; they are compared, never
        // shown, so a fixed key only makes them guessable to someone who already has the secret.
        fingerprintKey = HMACKey(key: (try? SecureRandom.bytes(32)) ?? [])
    }

    /// Applies new limits (a config reload).
    public func update(perAddress: Limits, perClientAddress: Limits, perClient: Limits) {
        state.withLock { $0.limits = (perAddress, perClientAddress, perClient) }
    }

    /// The keys one attempt is counted under, worked out once for its check and for its outcome.
    public struct Attempt: Sendable {
        let clientID: String
        /// `addressKey` of the address.
        let address: String
        let pair: String
    }

    public func attempt(clientID: String, address: String) -> Attempt {
        let key = Self.addressKey(address)
        return Attempt(clientID: clientID, address: key, pair: Self.pairKey(clientID, key))
    }

    /// May this client id, from this address, try to authenticate now?
    public func check(clientID: String, address: String, now: MonotonicTime = .now()) -> Verdict {
        check(attempt(clientID: clientID, address: address), now: now)
    }

    public func check(_ attempt: Attempt, now: MonotonicTime = .now()) -> Verdict {
        state.withLock { state in
            let (perAddress, perClientAddress, perClient) = state.limits
            if let wait = Self.waitTime(&state.addresses, attempt.address, perAddress, now) { return .limited(scope: "address", retryAfter: wait) }
            if let wait = Self.waitTime(&state.pairs, attempt.pair, perClientAddress, now) {
                return .limited(scope: "client_address", retryAfter: wait)
            }
            if let wait = Self.waitTime(&state.clients, attempt.clientID, perClient, now) {
                // The ceiling is for strangers: an address this client authenticated from lately goes on.
                if let success = state.known[attempt.pair], now.since(success) < rememberSuccess { return .allowed }
                return .limited(scope: "client", retryAfter: wait)
            }
            return .allowed
        }
    }

    /// Records a failed authentication with `secret`.
    public func recordFailure(clientID: String, address: String, secret: String, now: MonotonicTime = .now()) {
        recordFailure(attempt(clientID: clientID, address: address), secret: secret, now: now)
    }

    public func recordFailure(_ attempt: Attempt, secret: String, now: MonotonicTime = .now()) {
        let (clientID, address, pair) = (attempt.clientID, attempt.address, attempt.pair)
        let fingerprint = Array(fingerprintKey.authenticationCode(for: Array(secret.utf8)).prefix(16))
        state.withLock { state in
            if let last = state.lastAttempt[pair], now.since(last.at) < retryWindow,
                ConstantTime.equals(last.fingerprint, fingerprint)
            {
                state.lastAttempt[pair] = nil  // The same secret again: one attempt. A third try counts.
                return
            }
            if state.lastAttempt[pair] == nil && state.lastAttempt.count >= maxEntries { state.lastAttempt.removeAll() }
            state.lastAttempt[pair] = LastAttempt(fingerprint: fingerprint, at: now)
            let (perAddress, perClientAddress, perClient) = state.limits
            Self.take(&state.addresses, address, perAddress, now, maxEntries)
            Self.take(&state.pairs, pair, perClientAddress, now, maxEntries)
            Self.take(&state.clients, clientID, perClient, now, maxEntries)
        }
    }

    /// Records a successful authentication: the address is one this client uses. Its failures stay counted: a
    /// guesser behind the same NAT as the client must not get a fresh budget each time the client succeeds.
    public func recordSuccess(clientID: String, address: String, now: MonotonicTime = .now()) {
        recordSuccess(attempt(clientID: clientID, address: address), now: now)
    }

    public func recordSuccess(_ attempt: Attempt, now: MonotonicTime = .now()) {
        let pair = attempt.pair
        state.withLock { state in
            // Refreshed at most once a second: a client's every token need not rewrite the entry.
            if let last = state.known[pair], now.since(last) < .seconds(1) { return }
            if state.known[pair] == nil && state.known.count >= maxEntries {
                let horizon = rememberSuccess
                state.known = state.known.filter { now.since($0.value) < horizon }
                if state.known.count >= maxEntries { state.known.removeAll() }
            }
            state.known[pair] = now
        }
    }

    /// The key an address is limited under: IPv4 as is, IPv6 by its /64, the smallest network a host is
    /// usually given (one host can take any of its 2^64 addresses).
    static func addressKey(_ address: String) -> String {
        // `utf8.contains`, not `contains(":")`: the String overload is Foundation's substring search, which
        // cost as much as the rest of the limiter on every token request.
        guard address.utf8.contains(UInt8(ascii: ":")), let bytes = IPNetwork.parse(address), bytes.count == 16 else { return address }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map { String($0) }.joined(separator: ".")  // IPv4-mapped: the IPv4 address.
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    private static func pairKey(_ clientID: String, _ addressKey: String) -> String { addressKey + "\u{0}" + clientID }

    private static func refilled(_ bucket: Bucket, _ limits: Limits, _ now: MonotonicTime) -> Bucket {
        let elapsed = now.since(bucket.updated).secondsDouble
        return Bucket(tokens: min(limits.burst, bucket.tokens + elapsed * limits.refillPerSecond), updated: now)
    }

    /// Seconds until one token is back, if the bucket is empty; nil if a try is allowed.
    private static func waitTime(_ buckets: inout [String: Bucket], _ key: String, _ limits: Limits, _ now: MonotonicTime) -> Int? {
        guard limits.burst > 0, let bucket = buckets[key] else { return nil }
        let current = refilled(bucket, limits, now)
        if current.tokens >= limits.burst {
            buckets[key] = nil  // Full again: nothing to remember.
            return nil
        }
        buckets[key] = current
        guard current.tokens < 1 else { return nil }
        return max(1, Int(((1 - current.tokens) / max(limits.refillPerSecond, 0.001)).rounded(.up)))
    }

    private static func take(_ buckets: inout [String: Bucket], _ key: String, _ limits: Limits, _ now: MonotonicTime, _ maxEntries: Int) {
        guard limits.burst > 0 else { return }
        if buckets[key] == nil && buckets.count >= maxEntries { buckets.removeAll() }
        var bucket = buckets[key].map { refilled($0, limits, now) } ?? Bucket(tokens: limits.burst, updated: now)
        bucket.tokens = max(0, bucket.tokens - 1)
        buckets[key] = bucket
    }
}
