import CSQLite
import Glibc
import PluginProtocol

/// A SQLite connection. Errors carry SQLite's message and result code, never bound values (they can be
/// secrets or verifiers).
final class SQLiteDatabase {
    let handle: OpaquePointer

    init(path: String, readOnly: Bool = false) throws(RPCError) {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let status = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close(db)
            throw RPCError(.storageFailure, "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws(RPCError) {
        let status = sqlite3_exec(handle, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw error(status) }
    }

    /// `execute`, retried for up to `seconds` while SQLite answers SQLITE_BUSY without waiting: it does that
    /// instead of deadlocking when two connections both hold a shared lock and both want the exclusive one, as
    /// processes switching a fresh (rollback-journal) file to WAL at the same moment do.
    func executeRetryingBusy(_ sql: String, seconds: Int) throws(RPCError) {
        var attempts = 0
        while true {
            let status = sqlite3_exec(handle, sql, nil, nil, nil)
            if status == SQLITE_OK { return }
            attempts += 1
            guard status & 0xFF == SQLITE_BUSY, attempts < seconds * 200 else { throw error(status) }
            usleep(5_000)
        }
    }

    func prepare(_ sql: String) throws(RPCError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status) }
        return SQLiteStatement(handle: statement, database: self)
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so a
    /// read-modify-write cannot interleave with another process's.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    func integer(_ sql: String) throws(RPCError) -> Int64 {
        try prepare(sql).firstRow { $0.int(0) ?? 0 } ?? 0
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ status: Int32) -> RPCError {
        let message = String(cString: sqlite3_errmsg(handle))
        let primary = status & 0xFF
        if primary == SQLITE_CONSTRAINT { return RPCError(.storageFailure, "constraint failed: \(message)") }
        if primary == SQLITE_READONLY { return RPCError(.readOnly, "database is read-only: \(message)") }
        return RPCError(.storageFailure, "sqlite error \(status): \(message)")
    }
}

/// A prepared statement, reused across calls and finalized when released.
final class SQLiteStatement {
    let handle: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(handle: OpaquePointer, database: SQLiteDatabase) {
        self.handle = handle
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets for a new execution and binds `values` to ?1, ?2, …
    @discardableResult
    func bind(_ values: SQLiteValue...) -> SQLiteStatement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .null: sqlite3_bind_null(handle, index)
            case .integer(let number): sqlite3_bind_int64(handle, index, number)
            case .text(let text): sqlite3_bind_text(handle, index, text, -1, SQLiteStatement.transient)
            }
        }
        return self
    }

    /// Advances; true if a row is available.
    func step() throws(RPCError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(status)
            sqlite3_reset(handle)
            throw error
        }
    }

    func run() throws(RPCError) {
        while try step() {}
    }

    /// Reads the first row, if any, then resets: a statement left mid-result would block COMMIT.
    func firstRow<T>(_ read: (SQLiteStatement) -> T) throws(RPCError) -> T? {
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return read(self)
    }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    func int(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

enum SQLiteValue {
    case null
    case integer(Int64)
    case text(String)

    static func optional(_ value: Int64?) -> SQLiteValue { value.map { .integer($0) } ?? .null }
}
