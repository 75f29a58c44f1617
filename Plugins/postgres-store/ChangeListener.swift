import CPostgres
import Dispatch
import Glibc
import PluginProtocol

/// Tells the host, within milliseconds, when any process on the database (another host, the CLI) changed a
/// client or added a revocation, so the host drops what it cached and re-reads revocations.
///
/// Triggers append each change to `gatehouse_changes` and `NOTIFY`; this listens on its own connection
/// (LISTEN needs a session of its own, which is also why it cannot go through PgBouncer in transaction
/// mode) and reads the log past the last number it saw. NOTIFY is not stored: after a reconnect the log is
/// re-read from that number, so a change made while the listener was away is announced late, never lost.
/// If the listener cannot reach the server, the host's cache lifetime (`authCacheMs`) and its own one-second
/// revocation poll are the bounds (Docs/stores.md, "postgres-store").
final class ChangeListener: @unchecked Sendable {
    // @unchecked: every stored property but `target` and `announce` (immutable) is touched only by the
    // listener's own thread once `start` has handed over.
    private let target: ConnectionTarget
    private let announce: @Sendable ([String]) -> Void
    private var connection: PostgresConnection?
    private var last: Int64
    private var backoff = PostgresPool.initialBackoff
    private var lastPurge = ContinuousClock.now
    /// How long the log keeps a change: far longer than any reconnect takes.
    static let retention = "1 hour"
    static let channel = "gatehouse_changes"

    /// Opens the listening connection and takes the baseline now, before the store answers anything, so a
    /// change made by another process right after start is announced (read at the first wake-up instead, it
    /// would become the baseline).
    init(target: ConnectionTarget, announce: @escaping @Sendable ([String]) -> Void) throws {
        self.target = target
        self.announce = announce
        let connection = try PostgresConnection(target, role: "listener")
        try connection.execute("LISTEN \(Self.channel)")
        last = try connection.query("SELECT coalesce(max(seq), 0) FROM gatehouse_changes").int(0, 0) ?? 0
        self.connection = connection
    }

    func start() {
        DispatchQueue(label: "postgres-store-listen").async { [self] in
            while true { step() }
        }
    }

    private func step() {
        guard let connection else { return reconnect() }
        var descriptor = pollfd(fd: PQsocket(connection.handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, 1000)
        if ready < 0 && errno == EINTR { return }
        if ready > 0 {
            guard PQconsumeInput(connection.handle) == 1 else { return lost("the listening connection failed") }
            var heard = false
            while let notice = PQnotifies(connection.handle) {
                heard = true
                PQfreemem(notice)
            }
            if heard { readLog() }
        }
        guard PQstatus(connection.handle) == CONNECTION_OK else { return lost("the listening connection closed") }
        purgeOccasionally()
    }

    /// Announces every change after `last`, once per client id.
    private func readLog() {
        guard let connection else { return }
        do {
            while true {
                let rows = try connection.query("SELECT seq, subject FROM gatehouse_changes WHERE seq > $1 ORDER BY seq LIMIT 1000",
                                                [String(last)])
                guard rows.count > 0 else { return }
                var ids: [String] = []
                for row in 0..<rows.count {
                    last = max(last, rows.int(row, 0) ?? last)
                    if let id = rows.text(row, 1), !ids.contains(id) { ids.append(id) }
                }
                announce(ids)
                if rows.count < 1000 { return }
            }
        } catch {
            lost("cannot read the change log: \(error.message)")
        }
    }

    private func lost(_ reason: String) {
        PluginLog.warning("change listener lost PostgreSQL; reconnecting", ["error": .string(reason)])
        connection = nil
    }

    private func reconnect() {
        do {
            let fresh = try PostgresConnection(target, role: "listener")
            try fresh.execute("LISTEN \(Self.channel)")
            // Changes purged while we were away cannot be named: say "everything" instead.
            let oldest = try fresh.query("SELECT min(seq) FROM gatehouse_changes").int(0, 0)
            connection = fresh
            backoff = PostgresPool.initialBackoff
            PluginLog.info("change listener reconnected", ["store.database": .string(fresh.location)])
            if let oldest, oldest > last + 1 { announce([]) }
            readLog()
        } catch {
            let pause = backoff
            backoff = min(backoff * 2, PostgresPool.maxBackoff)
            usleep(UInt32(pause.milliseconds * 1000))
        }
    }

    /// Keeps the log short; any host may do it, and doing it twice is harmless.
    private func purgeOccasionally() {
        guard ContinuousClock.now - lastPurge > .seconds(60), let connection else { return }
        lastPurge = ContinuousClock.now
        do {
            try connection.execute("DELETE FROM gatehouse_changes WHERE changed_at < now() - interval '\(Self.retention)'")
        } catch {
            PluginLog.warning("cannot purge the change log", ["error": .string(error.message)])
        }
    }
}
