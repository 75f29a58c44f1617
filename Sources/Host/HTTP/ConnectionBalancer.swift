import Synchronization

/// Which loop serves each new connection: the one with the fewest open connections, the accepting loop on a tie.
/// Consulted once per connection (accept and close), never per request.
final class ConnectionBalancer: Sendable {
    private struct State {
        var loops: [EventLoop] = []
        var open: [Int]
    }
    private let state: Mutex<State>

    init(loopCount: Int) { state = Mutex(State(open: [Int](repeating: 0, count: loopCount))) }

    /// Called once, with the loops in index order, before any of them runs.
    func register(_ loops: [EventLoop]) { state.withLock { $0.loops = loops } }

    /// Picks the loop for a new connection and counts the connection for it.
    func assign(preferring preferred: Int) -> EventLoop {
        state.withLock { state in
            var best = preferred
            for index in state.open.indices where state.open[index] < state.open[best] { best = index }
            state.open[best] += 1
            return state.loops[best]
        }
    }

    func release(_ index: Int) { state.withLock { $0.open[index] -= 1 } }

    func openConnections(on index: Int) -> Int { state.withLock { $0.open[index] } }
}
