import CPostgres
import Glibc
import PluginProtocol

/// One libpq connection with its prepared statements. Not shared between threads: the pool lends it to one
/// borrower at a time, and the change listener owns its own.
///
/// Errors carry PostgreSQL's SQLSTATE and message with the password scrubbed out, never bound values (they
/// can be verifiers).
final class PostgresConnection: @unchecked Sendable {
    // @unchecked: a connection is used by one thread at a time — whoever borrowed it from `PostgresPool`, or
    // the listener thread that created it. libpq allows that (a PGconn must not be used concurrently).
    let handle: OpaquePointer
    private let target: ConnectionTarget
    /// SQL text to statement name; statements are prepared on first use and live as long as the connection.
    private var prepared: [String: String] = [:]

    /// Connects, or throws an error that says why (wrong URL, refused, missing database, authentication).
    /// - Parameter role: shown as `application_name` in `pg_stat_activity`, so an operator can tell them apart.
    /// - Parameter setup: a statement run once connected (session settings); a server that refuses it (too old
    ///   for the setting) keeps its defaults.
    init(_ target: ConnectionTarget, role: String = "pool", setup: String? = nil) throws(RPCError) {
        self.target = target
        // Our defaults come first, the deployer's URL last (`expand_dbname`): anything the URL sets wins.
        let settings: [(String, String)] = [
            ("connect_timeout", "5"), ("application_name", "gatehouse-postgres-store-\(role)"),
            // A server that vanished without closing the socket is noticed in seconds, not at TCP's default hours.
            ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
            ("dbname", target.conninfo),
        ]
        let connection = CStrings.with(settings.map(\.0)) { keywords in
            CStrings.with(settings.map(\.1)) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let connection else { throw RPCError(.unavailable, "cannot connect to PostgreSQL: out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = target.scrub(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            throw RPCError(.unavailable, "cannot connect to PostgreSQL: \(message)")
        }
        // Server notices would go to stderr unframed; nothing we run needs them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
        if let setup { _ = try? execute(setup) }
    }

    deinit { PQfinish(handle) }

    /// False once the server went away; the pool then drops the connection and makes a new one.
    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// Where we are connected, for logs: host, port and database, never the password.
    var location: String {
        let host = PQhost(handle).map { String(cString: $0) } ?? "?"
        let port = PQport(handle).map { String(cString: $0) } ?? "?"
        let database = PQdb(handle).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)/\(database)"
    }

    /// Runs SQL without parameters (migrations, BEGIN/COMMIT, LISTEN); several statements allowed.
    @discardableResult
    func execute(_ sql: String) throws(RPCError) -> PostgresRows {
        try check(PQexec(handle, sql))
    }

    /// Runs one statement with text parameters, prepared on this connection the first time it is seen.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(RPCError) -> PostgresRows {
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "gatehouse_\(prepared.count + 1)"
            _ = try check(PQprepare(handle, name, sql, Int32(parameters.count), nil))
            prepared[sql] = name
        }
        let result = CStrings.withOptional(parameters) { values in
            PQexecPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try check(result)
    }

    /// Runs `body` in a transaction; rolls back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = PQexec(handle, "ROLLBACK").map { PQclear($0) }
            throw error
        }
    }

    private func check(_ result: OpaquePointer?) throws(RPCError) -> PostgresRows {
        guard let result else { throw failure(sqlState: nil, message: String(cString: PQerrorMessage(handle))) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            PQclear(result)
            throw failure(sqlState: state, message: message)
        }
    }

    /// Maps a failure to a store error. A lost connection is `unavailable` (the host answers 503 and the pool
    /// reconnects); missing privileges get a hint, since that is a deployment mistake, not an outage.
    private func failure(sqlState: String?, message: String) -> RPCError {
        let text = target.scrub(message.trimmingTrailingWhitespace)
        guard PQstatus(handle) == CONNECTION_OK else {
            return RPCError(.unavailable, "lost the connection to PostgreSQL: \(text)")
        }
        switch sqlState {
        case "42501":
            return RPCError(.storageFailure, "PostgreSQL refused: \(text) (the role needs the privileges in Docs/stores.md, postgres-store)")
        case let state? where state.hasPrefix("08") || state.hasPrefix("57P"):
            return RPCError(.unavailable, "PostgreSQL is unavailable (\(state)): \(text)")
        case let state?:
            return RPCError(.storageFailure, "PostgreSQL error \(state): \(text)")
        case nil:
            return RPCError(.storageFailure, "PostgreSQL error: \(text)")
        }
    }
}

/// The rows of one result, freed when released.
final class PostgresRows {
    private let result: OpaquePointer

    init(_ result: OpaquePointer) { self.result = result }
    deinit { PQclear(result) }

    var count: Int { Int(PQntuples(result)) }
    /// Rows a command changed (`UPDATE`, `DELETE`, `INSERT … ON CONFLICT DO NOTHING`).
    var affected: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    func text(_ row: Int, _ column: Int) -> String? {
        guard PQgetisnull(result, Int32(row), Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(result, Int32(row), Int32(column)))
    }

    func int(_ row: Int, _ column: Int) -> Int64? { text(row, column).flatMap { Int64($0) } }

    func bool(_ row: Int, _ column: Int) -> Bool { text(row, column) == "t" }
}

/// C string arrays for libpq calls, freed when the call returns.
enum CStrings {
    static func with<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
        withOptional(strings) { body($0) }
    }

    /// A nil element is SQL NULL; the array ends with a nil too, as `PQconnectdbParams` wants.
    static func withOptional<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } } + [nil]
        defer { copies.forEach { free($0) } }
        let constant = copies.map { $0.map { UnsafePointer($0) } }
        return constant.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

extension String {
    fileprivate var trimmingTrailingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
