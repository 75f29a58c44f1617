import CPostgres
import Glibc
import PluginProtocol
import Synchronization

/// A few libpq connections, each lent to one thread at a time, with reconnection after the server went away.
///
/// While the server is unreachable, calls fail at once with `unavailable` (the host answers 503 with
/// `Retry-After`) instead of each waiting for a connect timeout; a new connection is tried after a backoff
/// that doubles from 100 ms to 2 s, so full service returns within about two seconds of the server.
final class PostgresPool: Sendable {
    let target: ConnectionTarget
    private let capacity: Int
    /// Run on each new connection (`PostgresConnection`'s `setup`).
    private let setup: String?
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var idle: [PostgresConnection] = []
        var retryAt: ContinuousClock.Instant?
        var backoff = PostgresPool.initialBackoff
    }

    static let initialBackoff = Duration.milliseconds(100)
    static let maxBackoff = Duration.seconds(2)

    /// Opens the first connection now, so a wrong URL, a refused connection or a missing database fails the
    /// plugin's start with libpq's reason.
    init(target: ConnectionTarget, capacity: Int, role: String = "pool", setup: String? = nil) throws(RPCError) {
        self.target = target
        self.capacity = max(1, capacity)
        self.role = role
        self.setup = setup
        state = Mutex(State(idle: [try Self.firstConnection(target, role: role, setup: setup)]))
    }

    private let role: String

    /// How long a start waits for a server that does not answer (yet): under the host's 10 s start timeout.
    static let startPatience = Duration.seconds(8)

    /// A server that is down or still starting (PQping: no response, or rejecting connections) is waited
    /// for, so a host whose store restarts during a database outage comes back as soon as the database does,
    /// instead of failing start after start into the supervisor's cooldown. Anything else (a wrong URL,
    /// password or database name) fails at once.
    private static func firstConnection(_ target: ConnectionTarget, role: String, setup: String?) throws(RPCError) -> PostgresConnection {
        let deadline = ContinuousClock.now + startPatience
        var warned = false
        while true {
            do {
                return try PostgresConnection(target, role: role, setup: setup)
            } catch {
                let ping = PQping(target.conninfo)
                guard ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT, ContinuousClock.now < deadline else { throw error }
                if !warned { PluginLog.warning("PostgreSQL does not answer yet; waiting", ["error": .string(error.message)]) }
                warned = true
                usleep(200_000)
            }
        }
    }

    /// Runs `body` on a borrowed connection. With `retry`, a call that failed because the connection was
    /// lost runs once more on a fresh one (for reads, and writes that are safe to repeat).
    func run<T>(retry: Bool = false, _ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            return try once(body)
        } catch let error as RPCError where retry && error.code == .unavailable {
            return try once(body)
        }
    }

    /// Host, port and database of a pooled connection, for logs (never the password).
    var location: String {
        (try? run { $0.location }) ?? "unreachable"
    }

    private func once<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try borrow()
        defer { giveBack(connection) }
        return try body(connection)
    }

    private func borrow() throws(RPCError) -> PostgresConnection {
        let now = ContinuousClock.now
        let waiting: Duration? = state.withLock { state in
            if let retryAt = state.retryAt, now < retryAt { return retryAt - now }
            return nil
        }
        if let waiting {
            throw RPCError(.unavailable, "PostgreSQL is unreachable; reconnecting in \(waiting.milliseconds) ms")
        }
        if let idle = state.withLock({ $0.idle.popLast() }) { return idle }
        do {
            let connection = try PostgresConnection(target, role: role, setup: setup)
            state.withLock { state in
                if state.retryAt != nil { PluginLog.info("reconnected to PostgreSQL", ["store.database": .string(connection.location)]) }
                state.retryAt = nil
                state.backoff = Self.initialBackoff
            }
            return connection
        } catch {
            state.withLock { state in
                if state.retryAt == nil { PluginLog.warning("PostgreSQL is unreachable", ["error": .string(error.message)]) }
                state.retryAt = ContinuousClock.now + state.backoff
                state.backoff = min(state.backoff * 2, Self.maxBackoff)
            }
            throw error
        }
    }

    /// A connection that broke or is left inside a transaction is dropped, never reused.
    private func giveBack(_ connection: PostgresConnection) {
        guard connection.isHealthy else { return }
        state.withLock { state in
            if state.idle.count < capacity { state.idle.append(connection) }
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
