import Glibc
import PluginProtocol
import StoreKit

/// Clients in PostgreSQL, shared by every host on the database. Reads run on a pooled connection and are
/// repeated once on a fresh one if the server went away in between; writes are single transactions, and a
/// read-modify-write locks the client's row (`FOR UPDATE`) so two operators never lose an update.
/// Used from the serve thread (StoreBackend's rule); the pool keeps the connections apart.
final class PostgresStoreBackend: StoreBackend {
    let pool: PostgresPool

    /// Last-use times are batched: a write per token would put a commit on the hot path.
    private var pendingUses = LastUseBatch()
    /// Used assertions expire by the thousand under load; they are deleted a batch at a time.
    var assertionPurge = PurgeSchedule()

    private static let columns = "id, name, role, allowed_scopes, default_scopes, token_lifetime, enabled, created_at, updated_at, last_used_at, not_before, instance, public_keys, jwks_uri"
    private static let prefixed = columns.split(separator: ",").map { "c." + $0.trimmingPrefix(" ") }.joined(separator: ", ")
    /// The authentication path: client and secrets in one statement, one round trip per token.
    private static let selectClient = """
        SELECT \(prefixed), s.verifier, s.created_at, s.expires_at FROM gatehouse_clients c
        LEFT JOIN gatehouse_secrets s ON s.client_id = c.id WHERE c.id = $1 ORDER BY s.created_at, s.id
        """
    /// store.authenticate, for the ids of a batch (`$1`, a text array) at once: each id's client, or the decoy row
    /// (`$2`, `StoredClient.decoy`) when there is none, with its secrets, rows ordered by the id's place in the array
    /// (the last column). Both cases probe the primary key twice and read one row and its secret, so an unknown id
    /// costs what a known one does (a miss that read nothing answered 20 µs sooner, TimingTests).
    private static let selectClientsOrDecoy = """
        SELECT \(prefixed), s.verifier, s.created_at, s.expires_at, q.ord FROM unnest($1::text[]) WITH ORDINALITY AS q(id, ord)
        LEFT JOIN gatehouse_clients known ON known.id = q.id
        JOIN gatehouse_clients c ON c.id = coalesce(known.id, $2)
        LEFT JOIN gatehouse_secrets s ON s.client_id = c.id ORDER BY q.ord, s.created_at, s.id
        """
    /// A page of `store.list` with every client's secrets, in one statement (a lookup per client made a page of a
    /// thousand cost a thousand round trips): rows come grouped by client, in id order.
    private static let selectPage = """
        SELECT \(prefixed), s.verifier, s.created_at, s.expires_at
        FROM (SELECT * FROM gatehouse_clients WHERE id > $1 AND id <> $3 ORDER BY id LIMIT $2) c
        LEFT JOIN gatehouse_secrets s ON s.client_id = c.id ORDER BY c.id, s.created_at, s.id
        """
    private static let insertClient = """
        INSERT INTO gatehouse_clients (\(columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        ON CONFLICT (id) DO NOTHING
        """
    private static let lockClient = "SELECT id FROM gatehouse_clients WHERE id = $1 FOR UPDATE"

    /// The connection `store.authenticate`'s batches run on, with the statement's plan fixed
    /// (`plan_cache_mode = force_generic_plan`). The batch statement's generic plan (index lookups) looks ten
    /// times dearer to the planner than one made for a known array, so PostgreSQL planned it afresh on every
    /// batch: with 1,000,000 clients that tripled its CPU per token (4.6–7.1 → 16.4 µs, against a small
    /// table). Only this statement runs here: range queries elsewhere want plans made for their values.
    let lookups: PostgresPool

    init(pool: PostgresPool, lookups: PostgresPool) throws {
        self.pool = pool
        self.lookups = lookups
        try pool.run(retry: true) { try PostgresSchema.migrate($0) }
        try ensureDecoy()
    }

    /// Puts the decoy client (an id no method accepts, lists or changes) in the table if it is not there: a fresh
    /// database, or one whose decoy someone deleted by hand. Several hosts starting at once may all try; the
    /// primary key lets one in and the others find it there.
    private func ensureDecoy() throws {
        let decoy = StoredClient.decoy
        try pool.run(retry: true) { connection in
            guard try connection.query("SELECT 1 FROM gatehouse_clients WHERE id = $1", [decoy.record.id]).count == 0 else { return }
            try connection.transaction {
                let inserted = try connection.query(Self.insertClient, Self.values(decoy.record))
                if inserted.affected == 1 { try Self.writeSecrets(decoy, on: connection) }
            }
        }
    }

    // MARK: - StoreBackend

    func client(_ id: String) throws -> StoredClient? {
        try pool.run(retry: true) { try Self.client(id, on: $0, pending: pendingUses) }
    }

    func clientToAuthenticate(_ id: String) throws -> StoredClient? {
        try clientsToAuthenticate([id])[0]
    }

    /// One statement, one round trip, for every id of a batch: the store's throughput with the auth cache off. An id
    /// that comes several times (a fleet of scrapers sharing one client) is looked up once: the work depends on the
    /// distinct ids, the same for an unknown id as for a known one.
    func clientsToAuthenticate(_ ids: [String]) throws -> [StoredClient?] {
        var places: [String: Int] = [:]
        var distinct: [String] = []
        for id in ids where places[id] == nil {
            places[id] = distinct.count
            distinct.append(id)
        }
        let found = try lookUp(distinct)
        return ids.map { id in places[id].flatMap { found[$0] } }
    }

    private func lookUp(_ ids: [String]) throws -> [StoredClient?] {
        guard !ids.isEmpty else { return [] }
        let rows = try lookups.run(retry: true) { connection in
            try connection.query(Self.selectClientsOrDecoy, [PostgresArray.text(ids), StoredClient.decoyID])
        }
        var found = [StoredClient?](repeating: nil, count: ids.count)
        for (ordinal, client) in Self.clients(in: rows, groupedBy: 17, pending: pendingUses) {
            // An ordinal counts from 1; the decoy (or a row gone missing) is no client.
            guard let place = Int(ordinal).map({ $0 - 1 }), found.indices.contains(place),
                  client.record.id != StoredClient.decoyID else { continue }
            found[place] = client
        }
        return found
    }

    func insert(_ client: StoredClient) throws {
        try pool.run { connection in
            try connection.transaction {
                let inserted = try connection.query(Self.insertClient, Self.values(client.record))
                guard inserted.affected == 1 else { throw RPCError(.clientExists, "client '\(client.record.id)' already exists") }
                try Self.writeSecrets(client, on: connection)
            }
        }
    }

    func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> StoredClient? {
        try pool.run { connection in
            try connection.transaction {
                guard try connection.query(Self.lockClient, [id]).count == 1,
                      var stored = try Self.client(id, on: connection, pending: pendingUses) else { return nil }
                try change(&stored)
                let record = stored.record
                try connection.query("""
                    UPDATE gatehouse_clients SET name = $2, role = $3, allowed_scopes = $4, default_scopes = $5,
                    token_lifetime = $6, enabled = $7, created_at = $8, updated_at = $9, not_before = $10, instance = $11,
                    public_keys = $12, jwks_uri = $13 WHERE id = $1
                    """, [record.id, record.name, record.role, record.allowedScopes.joined(separator: " "),
                          record.defaultScopes.joined(separator: " "), record.tokenLifetime.map(String.init),
                          record.enabled ? "true" : "false", String(record.createdAt), String(record.updatedAt),
                          record.notBefore.map(String.init), record.instance, Self.keysText(record), record.jwksURI])
                try connection.query("DELETE FROM gatehouse_secrets WHERE client_id = $1", [id])
                try Self.writeSecrets(stored, on: connection)
                return stored
            }
        }
    }

    func delete(_ id: String) throws -> Bool {
        pendingUses.forget(id)
        return try pool.run { try $0.query("DELETE FROM gatehouse_clients WHERE id = $1", [id]).affected > 0 }
    }

    func list(after: String?, limit: Int) throws -> [StoredClient] {
        try pool.run(retry: true) { connection in
            Self.clients(in: try connection.query(Self.selectPage, [after ?? "", String(limit), StoredClient.decoyID]), pending: pendingUses)
        }
    }

    func recordUse(_ id: String, at time: Int64) {
        if pendingUses.record(id, at: time) { flushUses(now: time) }
    }

    func addRevocation(tokenID: String, clientID: String, expiresAt: Int64, now: Int64) throws {
        // Repeating it is harmless (the token id is unique), so a lost connection is retried.
        try pool.run(retry: true) { connection in
            try connection.transaction {
                // Sequence numbers must become visible in order, or a host that read up to n could miss n-1.
                try connection.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.changeLock))")
                try connection.query("DELETE FROM gatehouse_revocations WHERE expires_at <= $1", [String(now)])
                try connection.query("INSERT INTO gatehouse_revocations (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
                                     [tokenID, clientID, String(expiresAt)])
            }
        }
    }

    func revocations(after: Int64, now: Int64) throws -> RevocationsResult {
        try pool.run(retry: true) { connection in
            let rows = try connection.query("""
                SELECT jti, expires_at, (SELECT coalesce(max(seq), 0) FROM gatehouse_revocations) FROM gatehouse_revocations
                WHERE seq > $1 AND expires_at > $2 ORDER BY seq
                """, [String(after), String(now)])
            let entries = (0..<rows.count).map { RevocationsResult.Entry(tokenID: rows.text($0, 0) ?? "", expiresAt: rows.int($0, 1) ?? 0) }
            let last = rows.count > 0
                ? rows.int(0, 2) ?? after
                : try connection.query("SELECT coalesce(max(seq), 0) FROM gatehouse_revocations").int(0, 0) ?? after
            return RevocationsResult(revocations: entries, last: last)
        }
    }

    /// Writes batched last-use times; called periodically and at shutdown. Failures are logged, not fatal:
    /// a lost last-use time is not a lost acknowledged write.
    func flushUses(now: Int64) {
        let uses = pendingUses.take(now: now)
        guard !uses.isEmpty else { return }
        do {
            try pool.run { connection in
                try connection.transaction {
                    for (id, time) in uses {
                        try connection.query("UPDATE gatehouse_clients SET last_used_at = greatest(coalesce(last_used_at, 0), $2) WHERE id = $1",
                                             [id, String(time)])
                    }
                }
            }
        } catch {
            PluginLog.warning("could not record last use", ["error": .string("\(error)")])
        }
    }

    // MARK: - Rows

    private static func client(_ id: String, on connection: PostgresConnection, pending: LastUseBatch) throws -> StoredClient? {
        clients(in: try connection.query(selectClient, [id]), pending: pending).first
    }

    /// Clients from rows of `selectClient`'s columns, each client's rows together (a client with no secret has
    /// one row whose secret columns are NULL).
    private static func clients(in rows: PostgresRows, pending: LastUseBatch) -> [StoredClient] {
        clients(in: rows, groupedBy: 0, pending: pending).map(\.client)
    }

    /// The same, where the rows of one client are those with the same value in `column` (its id, or the place of
    /// a looked-up id in a batch, where one client may appear several times).
    private static func clients(in rows: PostgresRows, groupedBy column: Int, pending: LastUseBatch) -> [(key: String, client: StoredClient)] {
        var clients: [(key: String, client: StoredClient)] = []
        for row in 0..<rows.count {
            let key = rows.text(row, column) ?? ""
            if clients.last?.key != key {
                clients.append((key, StoredClient(record: record(rows, row, pending: pending), secrets: [])))
            }
            guard let verifier = rows.text(row, 14) else { continue }
            clients[clients.count - 1].client.secrets.append(
                StoredSecret(verifier: verifier, createdAt: rows.int(row, 15) ?? 0, expiresAt: rows.int(row, 16)))
        }
        return clients
    }

    private static func record(_ rows: PostgresRows, _ row: Int, pending: LastUseBatch) -> ClientRecord {
        let id = rows.text(row, 0) ?? ""
        return ClientRecord(
            id: id, name: rows.text(row, 1) ?? "", role: rows.text(row, 2) ?? "",
            allowedScopes: (rows.text(row, 3) ?? "").split(separator: " ").map(String.init),
            defaultScopes: (rows.text(row, 4) ?? "").split(separator: " ").map(String.init),
            tokenLifetime: rows.int(row, 5), enabled: rows.bool(row, 6),
            createdAt: rows.int(row, 7) ?? 0, updatedAt: rows.int(row, 8) ?? 0,
            lastUsedAt: max(rows.int(row, 9) ?? 0, pending[id] ?? 0).nonZero, notBefore: rows.int(row, 10), instance: rows.text(row, 11),
            publicKeys: Self.keys(rows.text(row, 12)), jwksURI: rows.text(row, 13))
    }

    private static func values(_ record: ClientRecord) -> [String?] {
        [record.id, record.name, record.role, record.allowedScopes.joined(separator: " "),
         record.defaultScopes.joined(separator: " "), record.tokenLifetime.map(String.init), record.enabled ? "true" : "false",
         String(record.createdAt), String(record.updatedAt), record.lastUsedAt.map(String.init), record.notBefore.map(String.init), record.instance,
         keysText(record), record.jwksURI]
    }

    private static func keysText(_ record: ClientRecord) -> String? {
        record.publicKeys.isEmpty ? nil : JSONWriter.string(.array(record.publicKeys.map(\.json)))
    }

    /// Keys as the store wrote them; a value that no longer parses yields no keys, which fails closed (the
    /// client cannot authenticate) instead of failing every read of the client.
    private static func keys(_ text: String?) -> [PublicKeyInfo] {
        guard let text, let array = (try? JSONParser.parse(text))?.arrayValue else { return [] }
        return array.compactMap { try? PublicKeyInfo(json: $0) }
    }

    private static func writeSecrets(_ client: StoredClient, on connection: PostgresConnection) throws {
        for secret in client.secrets {
            try connection.query("INSERT INTO gatehouse_secrets (client_id, verifier, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                                 [client.record.id, secret.verifier, String(secret.createdAt), secret.expiresAt.map(String.init)])
        }
    }
}

extension Int64 {
    fileprivate var nonZero: Int64? { self == 0 ? nil : self }
}

