import Synchronization

/// The `jti`s of client assertions this host has accepted, each kept until its assertion expires, so none is
/// accepted twice (RFC 7523 §3 item 7; OIDC Core §9: "The JWT MAY contain a jti ... used only once").
///
/// Per host, in memory: the first filter. A `jti` it has seen is refused without a store call; one it has
/// not is then put to the store (`SharedAssertionReplays`), which remembers it for every host sharing it and
/// across restarts (sqlite-store, postgres-store). With a store that keeps none (file-store) this is all there
/// is: one host, forgotten on restart (Docs/secretless-clients.md says so).
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

    /// Forgets an entry the store could not confirm (it was down): the assertion was not accepted, so the
    /// client may present it again.
    func remove(clientID: String, tokenID: String) {
        let key = clientID + "\u{0}" + tokenID
        state.withLock { _ = $0.expiries.removeValue(forKey: key) }
    }

    var count: Int { state.withLock { $0.expiries.count } }
}
