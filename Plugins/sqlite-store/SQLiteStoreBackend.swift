import Glibc
import PluginProtocol
import StoreKit

/// Clients in SQLite: WAL, foreign keys, a busy timeout for several hosts sharing one file, prepared
/// statements kept for the life of the process, and `synchronous = FULL` so an acknowledged write survives
/// a crash (kill -9) and a power cut alike. Used from the serve thread only.
final class SQLiteStoreBackend: StoreBackend {
    let db: SQLiteDatabase
    private let selectClient: SQLiteStatement
    private let selectClientWithSecrets: SQLiteStatement
    private let selectClientOrDecoy: SQLiteStatement
    private let selectSecrets: SQLiteStatement
    private let insertClient: SQLiteStatement
    private let updateClient: SQLiteStatement
    private let deleteSecrets: SQLiteStatement
    private let insertSecret: SQLiteStatement
    private let deleteClient: SQLiteStatement
    private let listClients: SQLiteStatement
    private let insertRevocation: SQLiteStatement
    private let purgeRevocations: SQLiteStatement
    private let selectRevocations: SQLiteStatement
    private let lastRevocation: SQLiteStatement
    private let touchClient: SQLiteStatement
    private let changeCount: SQLiteStatement
    private let own: OwnChanges

    /// Last-use times are batched: writing one per token would put an fsync on the hot path.
    private var pendingUses = LastUseBatch()
    /// `store.consumeAssertion`'s statements, prepared at its first call, and when expired rows go next.
    var assertionStatements: (consume: SQLiteStatement, purge: SQLiteStatement)?
    var assertionPurge = PurgeSchedule()

    init(path: String, own: OwnChanges = OwnChanges()) throws {
        self.own = own
        try Self.createPrivately(path)
        db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA busy_timeout = 5000")
        // Hosts sharing a fresh file start at the same moment (SharedStoreStartTests).
        try db.executeRetryingBusy("PRAGMA journal_mode = WAL", seconds: 5)
        try db.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
        // Reading the schema is where a corrupt or foreign file shows itself: fail at start, clearly.
        _ = try db.integer("SELECT count(*) FROM sqlite_master")
        try Self.checkIntegrity(db, path: path)
        try SQLiteSchema.migrate(db)
        let names = ["id", "name", "role", "allowed_scopes", "default_scopes", "token_lifetime", "enabled", "created_at", "updated_at",
                     "last_used_at", "not_before", "instance", "public_keys", "jwks_uri"]
        let columns = names.joined(separator: ", ")
        selectClient = try db.prepare("SELECT \(columns) FROM clients WHERE id = ?1")
        // The authentication path: client and secrets in one statement, so one read transaction (one round
        // of WAL locking) per token instead of two.
        let prefixed = names.map { "c." + $0 }.joined(separator: ", ")
        selectClientWithSecrets = try db.prepare("""
            SELECT \(prefixed), s.verifier, s.created_at, s.expires_at FROM clients c
            LEFT JOIN secrets s ON s.client_id = c.id WHERE c.id = ?1 ORDER BY s.created_at, s.rowid
            """)
        // store.authenticate: the client, or the decoy row when there is none. Both cases probe the table twice,
        // read one row and its secrets: an unknown id costs what a known one does.
        selectClientOrDecoy = try db.prepare("""
            SELECT \(prefixed), s.verifier, s.created_at, s.expires_at FROM clients c
            LEFT JOIN secrets s ON s.client_id = c.id WHERE c.id = coalesce((SELECT id FROM clients WHERE id = ?1), ?2)
            ORDER BY s.created_at, s.rowid
            """)
        selectSecrets = try db.prepare("SELECT verifier, created_at, expires_at FROM secrets WHERE client_id = ?1 ORDER BY created_at, rowid")
        insertClient = try db.prepare("INSERT INTO clients (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
        updateClient = try db.prepare("""
            UPDATE clients SET name = ?2, role = ?3, allowed_scopes = ?4, default_scopes = ?5, token_lifetime = ?6,
            enabled = ?7, created_at = ?8, updated_at = ?9, last_used_at = ?10, not_before = ?11,
            instance = ?12, public_keys = ?13, jwks_uri = ?14 WHERE id = ?1
            """)
        deleteSecrets = try db.prepare("DELETE FROM secrets WHERE client_id = ?1")
        insertSecret = try db.prepare("INSERT INTO secrets (client_id, verifier, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")
        deleteClient = try db.prepare("DELETE FROM clients WHERE id = ?1")
        listClients = try db.prepare("SELECT \(columns) FROM clients WHERE id > ?1 AND id <> ?3 ORDER BY id LIMIT ?2")
        insertRevocation = try db.prepare("INSERT OR IGNORE INTO revocations (jti, client_id, expires_at) VALUES (?1, ?2, ?3)")
        purgeRevocations = try db.prepare("DELETE FROM revocations WHERE expires_at <= ?1")
        selectRevocations = try db.prepare("SELECT jti, expires_at FROM revocations WHERE seq > ?1 AND expires_at > ?2 ORDER BY seq")
        lastRevocation = try db.prepare("SELECT coalesce(max(seq), 0) FROM revocations")
        touchClient = try db.prepare("UPDATE clients SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1")
        changeCount = try db.prepare("SELECT seq FROM changes WHERE id = 1")
        try ensureDecoy()
    }

    /// Puts the decoy client (`StoredClient.decoy`, an id no method accepts) in the table if it is not there: a
    /// fresh file, or one whose decoy someone deleted by hand. Checked under the write lock, as migrations are.
    private func ensureDecoy() throws {
        let decoy = StoredClient.decoy
        guard try selectClient.bind(.text(decoy.record.id)).firstRow({ _ in true }) == nil else { return }
        try write {
            guard try selectClient.bind(.text(decoy.record.id)).firstRow({ _ in true }) == nil else { return }
            try bindRecord(insertClient, decoy.record).run()
            try writeSecrets(decoy)
        }
    }

    /// `db.transaction`, telling `own` which steps of the change counter it made (ChangeWatcher): read after
    /// `BEGIN IMMEDIATE` and before `COMMIT`, under the write lock, and recorded once the commit succeeded.
    func write<T>(_ body: () throws -> T) throws -> T {
        var steps: (from: Int64?, to: Int64?) = (nil, nil)
        let result = try db.transaction {
            steps.from = try changeCount.bind().firstRow { $0.int(0) } ?? nil
            let result = try body()
            steps.to = try changeCount.bind().firstRow { $0.int(0) } ?? nil
            return result
        }
        if let from = steps.from, let to = steps.to { own.record(from: from, to: to) }
        return result
    }

    /// A zeroed or torn page elsewhere in the file would otherwise open fine and fail every token later, with
    /// the host reporting ready. `quick_check` reads every page (without `integrity_check`'s index
    /// cross-checks), so the cost grows with the file: tens of milliseconds per 100,000 clients.
    private static func checkIntegrity(_ db: SQLiteDatabase, path: String) throws(RPCError) {
        let verdict: String
        do {
            verdict = try db.prepare("PRAGMA quick_check(1)").firstRow { $0.text(0) ?? "" } ?? ""
        } catch {
            throw RPCError(.storageFailure, "\(path) is damaged (PRAGMA quick_check failed: \(error.message)); restore it from a backup")
        }
        guard verdict == "ok" else {
            throw RPCError(.storageFailure, "\(path) is damaged (PRAGMA quick_check: \(verdict)); restore it from a backup")
        }
    }

    /// Creates the file (and its directory) readable by the owner only before SQLite opens it; SQLite
    /// gives the -wal and -shm files the same mode.
    private static func createPrivately(_ path: String) throws {
        if let slash = path.lastIndex(of: "/") {
            let directory = String(path[..<slash])
            // EEXIST: another process sharing the file created it a moment ago.
            if !directory.isEmpty && access(directory, F_OK) != 0 && mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw RPCError(.storageFailure, "cannot create directory \(directory): \(String(cString: strerror(errno)))")
            }
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RPCError(.storageFailure, "cannot open \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        let status = fstat(fd, &info)
        close(fd)
        // We create it 0600; anything looser was done by someone since, and the file holds every verifier.
        if status == 0 && info.st_mode & 0o077 != 0 {
            throw RPCError(.storageFailure, "\(path) is readable by other users; run: chmod 600 \(path)")
        }
    }

    // MARK: - StoreBackend

    func client(_ id: String) throws -> StoredClient? { try clientWithSecrets(selectClientWithSecrets.bind(.text(id))) }

    func clientToAuthenticate(_ id: String) throws -> StoredClient? {
        let found = try clientWithSecrets(selectClientOrDecoy.bind(.text(id), .text(StoredClient.decoyID)))
        return found?.record.id == StoredClient.decoyID ? nil : found
    }

    func insert(_ client: StoredClient) throws {
        try write {
            if try selectClient.bind(.text(client.record.id)).firstRow({ _ in true }) != nil {
                throw RPCError(.clientExists, "client '\(client.record.id)' already exists")
            }
            try bindRecord(insertClient, client.record).run()
            try writeSecrets(client)
        }
    }

    func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> StoredClient? {
        try write {
            guard var stored = try client(id) else { return nil }
            try change(&stored)
            try bindRecord(updateClient, stored.record).run()
            try deleteSecrets.bind(.text(id)).run()
            try writeSecrets(stored)
            return stored
        }
    }

    func delete(_ id: String) throws -> Bool {
        let deleted = try write {
            try deleteClient.bind(.text(id)).run()
            return db.changes > 0
        }
        pendingUses.forget(id)
        return deleted
    }

    func list(after: String?, limit: Int) throws -> [StoredClient] {
        listClients.bind(.text(after ?? ""), .integer(Int64(limit)), .text(StoredClient.decoyID))
        var records: [ClientRecord] = []
        while try listClients.step() { records.append(row(listClients)) }
        return try records.map { StoredClient(record: $0, secrets: try secrets(of: $0.id)) }
    }

    func recordUse(_ id: String, at time: Int64) {
        if pendingUses.record(id, at: time) { flushUses(now: time) }
    }

    func addRevocation(tokenID: String, clientID: String, expiresAt: Int64, now: Int64) throws {
        try write {
            try purgeRevocations.bind(.integer(now)).run()
            try insertRevocation.bind(.text(tokenID), .text(clientID), .integer(expiresAt)).run()
        }
    }

    func revocations(after: Int64, now: Int64) throws -> RevocationsResult {
        selectRevocations.bind(.integer(after), .integer(now))
        var entries: [RevocationsResult.Entry] = []
        while try selectRevocations.step() {
            entries.append(.init(tokenID: selectRevocations.text(0) ?? "", expiresAt: selectRevocations.int(1) ?? 0))
        }
        let last = try lastRevocation.bind().firstRow { $0.int(0) ?? 0 } ?? 0
        return RevocationsResult(revocations: entries, last: last)
    }

    /// Writes batched last-use times; called periodically and at shutdown. Failures are logged, not fatal:
    /// a lost last-use time is not a lost acknowledged write.
    func flushUses(now: Int64) {
        let uses = pendingUses.take(now: now)
        guard !uses.isEmpty else { return }
        do {
            try write {
                for (id, time) in uses { try touchClient.bind(.text(id), .integer(time)).run() }
            }
        } catch {
            PluginLog.warning("could not record last use", ["error": .string("\(error)")])
        }
    }

    // MARK: - Rows

    /// The client and its secrets from a statement over `clients c LEFT JOIN secrets s`, one row per secret.
    private func clientWithSecrets(_ statement: SQLiteStatement) throws -> StoredClient? {
        var found: StoredClient?
        while try statement.step() {
            if found == nil { found = StoredClient(record: row(statement), secrets: []) }
            if let verifier = statement.text(14) {
                found?.secrets.append(StoredSecret(verifier: verifier, createdAt: statement.int(15) ?? 0, expiresAt: statement.int(16)))
            }
        }
        return found
    }

    private func row(_ statement: SQLiteStatement) -> ClientRecord {
        ClientRecord(
            id: statement.text(0) ?? "", name: statement.text(1) ?? "", role: statement.text(2) ?? "",
            allowedScopes: (statement.text(3) ?? "").split(separator: " ").map(String.init),
            defaultScopes: (statement.text(4) ?? "").split(separator: " ").map(String.init),
            tokenLifetime: statement.int(5), enabled: statement.int(6) == 1,
            createdAt: statement.int(7) ?? 0, updatedAt: statement.int(8) ?? 0,
            lastUsedAt: max(statement.int(9) ?? 0, pendingUses[statement.text(0) ?? ""] ?? 0).nonZero,
            notBefore: statement.int(10), instance: statement.text(11), publicKeys: Self.keys(statement.text(12)),
            jwksURI: statement.text(13))
    }

    /// Keys as the store wrote them; a column that no longer parses yields no keys, which fails closed (the
    /// client cannot authenticate) instead of failing every read of the client.
    private static func keys(_ text: String?) -> [PublicKeyInfo] {
        guard let text, let array = (try? JSONParser.parse(text))?.arrayValue else { return [] }
        return array.compactMap { try? PublicKeyInfo(json: $0) }
    }

    private func secrets(of id: String) throws -> [StoredSecret] {
        selectSecrets.bind(.text(id))
        var secrets: [StoredSecret] = []
        while try selectSecrets.step() {
            secrets.append(StoredSecret(verifier: selectSecrets.text(0) ?? "", createdAt: selectSecrets.int(1) ?? 0,
                                        expiresAt: selectSecrets.int(2)))
        }
        return secrets
    }

    private func bindRecord(_ statement: SQLiteStatement, _ record: ClientRecord) -> SQLiteStatement {
        statement.bind(.text(record.id), .text(record.name), .text(record.role),
                       .text(record.allowedScopes.joined(separator: " ")), .text(record.defaultScopes.joined(separator: " ")),
                       .optional(record.tokenLifetime), .integer(record.enabled ? 1 : 0), .integer(record.createdAt),
                       .integer(record.updatedAt), .optional(record.lastUsedAt), .optional(record.notBefore),
                       record.instance.map { .text($0) } ?? .null,
                       record.publicKeys.isEmpty ? .null : .text(JSONWriter.string(.array(record.publicKeys.map(\.json)))),
                       record.jwksURI.map { .text($0) } ?? .null)
    }

    private func writeSecrets(_ client: StoredClient) throws {
        for secret in client.secrets {
            try insertSecret.bind(.text(client.record.id), .text(secret.verifier), .integer(secret.createdAt),
                                  .optional(secret.expiresAt)).run()
        }
    }
}

extension Int64 {
    fileprivate var nonZero: Int64? { self == 0 ? nil : self }
}
