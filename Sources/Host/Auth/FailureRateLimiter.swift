import PluginProtocol
import Synchronization

/// Limits failed client authentications with token buckets, per client id and per source address.
///
/// Only failures take tokens; a request is refused (429) before any store work once either bucket is
/// empty. Go's x/oauth2 (Prometheus) retries a failed Basic attempt at once with body credentials: a
/// failure with the other method from the same address and client within `retryWindow` is the same
/// attempt and is not counted again. Memory is bounded: full buckets are forgotten, and past
/// `maxEntries` the table is cleared (limits fail open for a moment rather than growing without bound).
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
        case limited(scope: String, retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: MonotonicTime
    }

    private struct State {
        var clients: [String: Bucket] = [:]
        var addresses: [String: Bucket] = [:]
        var lastFailure: [String: (method: String, at: MonotonicTime)] = [:]
    }

    var perClient: Limits { limits.withLock { $0.perClient } }
    var perAddress: Limits { limits.withLock { $0.perAddress } }
    /// Changed by a reload (SIGHUP); buckets keep their fill and refill at the new rate from now on.
    private let limits: Mutex<(perClient: Limits, perAddress: Limits)>
    let retryWindow: Duration = .seconds(2)
    private let maxEntries: Int
    private let state = Mutex(State())

    public init(perClient: Limits, perAddress: Limits, maxEntries: Int = 100_000) {
        self.limits = Mutex((perClient, perAddress))
        self.maxEntries = maxEntries
    }

    /// Applies new limits (a config reload).
    public func update(perClient: Limits, perAddress: Limits) { limits.withLock { $0 = (perClient, perAddress) } }

    /// May this client id, from this address, try to authenticate now?
    public func check(clientID: String, address: String, now: MonotonicTime = .now()) -> Verdict {
        state.withLock { state in
            if let wait = Self.waitTime(&state.addresses, address, perAddress, now) { return .limited(scope: "address", retryAfter: wait) }
            if let wait = Self.waitTime(&state.clients, clientID, perClient, now) { return .limited(scope: "client", retryAfter: wait) }
            return .allowed
        }
    }

    /// Records a failed authentication.
    public func recordFailure(clientID: String, address: String, method: String, now: MonotonicTime = .now()) {
        state.withLock { state in
            let attempt = address + "\u{0}" + clientID
            if let last = state.lastFailure[attempt], last.method != method, now.since(last.at) < retryWindow {
                state.lastFailure[attempt] = nil  // The auto-detect retry of the same attempt: count it once.
                return
            }
            if state.lastFailure.count >= maxEntries { state.lastFailure.removeAll() }
            state.lastFailure[attempt] = (method, now)
            Self.take(&state.clients, clientID, perClient, now, maxEntries)
            Self.take(&state.addresses, address, perAddress, now, maxEntries)
        }
    }

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
