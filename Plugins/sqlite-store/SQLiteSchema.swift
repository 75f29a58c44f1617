import PluginProtocol

/// Named, ordered migrations tracked in `PRAGMA user_version`. Append only; never edit a shipped one.
enum SQLiteSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("create clients, secrets and revocations", """
            CREATE TABLE clients (
                id TEXT PRIMARY KEY NOT NULL,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                allowed_scopes TEXT NOT NULL,   -- space-separated (scopes contain no spaces, RFC 6749 §3.3)
                default_scopes TEXT NOT NULL,
                token_lifetime INTEGER,
                enabled INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                last_used_at INTEGER,
                not_before INTEGER
            ) WITHOUT ROWID;
            CREATE TABLE secrets (
                client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
                verifier TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER
            );
            CREATE INDEX secrets_by_client ON secrets(client_id);
            CREATE TABLE revocations (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                jti TEXT NOT NULL UNIQUE,
                client_id TEXT NOT NULL,
                expires_at INTEGER NOT NULL
            );
            CREATE INDEX revocations_by_expiry ON revocations(expires_at);
            """),
        // Clients created before this keep a null instance; their tokens carry none and stay valid.
        ("add the client instance", "ALTER TABLE clients ADD COLUMN instance TEXT"),
        // The JSON array of `PublicKeyInfo` (public JWK members only), NULL for a client with a secret. Keys
        // are read with the client on every assertion, so they live on its row, not in a joined table.
        ("public keys of secretless clients", "ALTER TABLE clients ADD COLUMN public_keys TEXT"),
        // Hosts' public signing keys (`store.publishSigningKeys`): `jwk` is the JSON object of public members.
        ("hosts' public signing keys", """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY NOT NULL,
                alg TEXT NOT NULL,
                jwk TEXT NOT NULL,
                not_before INTEGER NOT NULL,
                not_after INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX signing_keys_by_expiry ON signing_keys(not_after);
            """),
    ]

    /// Brings the database up to the latest version, one transaction per migration.
    ///
    /// Several processes may open a fresh file at the same moment (hosts sharing it, Docs/stores.md): each
    /// migration takes the write lock first (`BEGIN IMMEDIATE`, waiting out the busy timeout) and reads the
    /// version again under it, so exactly one process applies it and the others find it done.
    static func migrate(_ db: SQLiteDatabase) throws {
        while true {
            let applied: Int? = try db.transaction {
                let current = Int(try db.integer("PRAGMA user_version"))
                guard current <= migrations.count else {
                    throw RPCError(.storageFailure,
                        "database schema version \(current) is newer than this sqlite-store knows (\(migrations.count)); upgrade Gatehouse")
                }
                guard current < migrations.count else { return nil }
                try db.execute(migrations[current].sql)
                try db.execute("PRAGMA user_version = \(current + 1)")
                return current
            }
            guard let applied else { return }
            PluginLog.info("migrated database", ["store.migration": .string(migrations[applied].name), "store.version": .int(Int64(applied + 1))])
        }
    }
}
