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
        // A counter that every change a host must hear of moves, and last-use writes do not: the change watcher
        // announces a new count, not a new `data_version`, which any commit moves (ChangeWatcher.swift). The
        // clients trigger lists every column but `last_used_at`: a migration that adds a column to clients
        // must drop and recreate it with the new column (StoreDurabilityTests checks the list). Purging expired
        // revocations is not announced: a host drops an expired revocation on its own.
        ("a change counter that last-use writes leave alone", """
            CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
            INSERT INTO changes (id, seq) VALUES (1, 0);
            CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER clients_updated AFTER UPDATE OF id, name, role, allowed_scopes, default_scopes, token_lifetime, enabled,
                created_at, updated_at, not_before, instance, public_keys ON clients BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER secrets_inserted AFTER INSERT ON secrets BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER secrets_deleted AFTER DELETE ON secrets BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER secrets_updated AFTER UPDATE ON secrets BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER revocations_inserted AFTER INSERT ON revocations BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER signing_keys_inserted AFTER INSERT ON signing_keys BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER signing_keys_deleted AFTER DELETE ON signing_keys BEGIN UPDATE changes SET seq = seq + 1; END;
            CREATE TRIGGER signing_keys_updated AFTER UPDATE ON signing_keys BEGIN UPDATE changes SET seq = seq + 1; END;
            """),
        // `ClientRecord.jwksURI`: where a secretless client publishes its keys, NULL for every other client. A
        // change of it is one every host must hear of: the clients trigger is made again with the new column.
        ("keys of secretless clients at a URL", """
            ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
            DROP TRIGGER clients_updated;
            CREATE TRIGGER clients_updated AFTER UPDATE OF id, name, role, allowed_scopes, default_scopes, token_lifetime, enabled,
                created_at, updated_at, not_before, instance, public_keys, jwks_uri ON clients BEGIN UPDATE changes SET seq = seq + 1; END;
            """),
        // Used client assertion jtis (`store.consumeAssertion`): kept in the file, so neither a restart nor another
        // host on the same file accepts one twice. Expired rows are deleted in batches by expires_at.
        ("used client assertions", """
            CREATE TABLE assertion_jtis (
                client_id TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (client_id, jti)
            );
            CREATE INDEX assertion_jtis_by_expiry ON assertion_jtis(expires_at);
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
