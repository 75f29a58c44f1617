import Synchronization

/// The `jti`s of client assertions this host has accepted, each kept until its assertion expires, so none is
/// accepted twice (RFC 7523 §3 item 7; OIDC Core §9: "The JWT MAY contain a jti ... used only once").
///
/// Per host: with several hosts behind a load balancer an assertion could be replayed once against each
/// other host within its short lifetime (at most `maxLifetime`). A store that shares state could close that;
/// none does yet (Docs/secretless-clients.md says so).
///
/// Bounded: when full of unexpired entries it refuses new ones (fails closed). Only assertions whose
/// signature a registered key verified get here, so only registered clients can fill it.
final class AssertionReplayCache: Sendable {
    private struct State {
        var expiries: [String: Int64] = [:]
        var lastSweep: Int64 = 0
    }

    enum Outcome: Equatable {
        case accepted
        case replayed
        case full
    }

    private let state = Mutex(State())
    let maxEntries: Int

    init(maxEntries: Int = 200_000) {
        self.maxEntries = maxEntries
    }

    /// Records `tokenID` of `clientID` until `expiresAt` unless it is already there.
    func insert(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) -> Outcome {
        let key = clientID + "\u{0}" + tokenID
        return state.withLock { state in
            if let expiry = state.expiries[key], expiry >= now { return .replayed }
            // Sweep at most once a second, or when full: O(n), so not on every insert.
            if state.lastSweep < now || state.expiries.count >= maxEntries {
                state.expiries = state.expiries.filter { $0.value >= now }
                state.lastSweep = now
            }
            guard state.expiries.count < maxEntries else { return .full }
            state.expiries[key] = expiresAt
            return .accepted
        }
    }

    var count: Int { state.withLock { $0.expiries.count } }
}
