import PluginProtocol

/// Named, ordered migrations, recorded in `gatehouse_migrations`. Append only; never edit a shipped one.
///
/// Several hosts may start at the same moment against one database: each migration runs in its own
/// transaction under a transaction-scoped advisory lock, and re-reads the applied versions after taking it,
/// so exactly one host applies each migration and the others see it done.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` keys, constants of this store ("GHmigrat", "GHchange" as bytes, roughly).
    static let migrationLock: Int64 = 0x4748_6D69_6772_6174
    /// Taken by every transaction that appends to the change log or the revocations, so sequence numbers
    /// become visible in the order they were handed out (a reader that has seen n has seen all below n).
    static let changeLock: Int64 = 0x4748_6368_616E_6765

    static let migrations: [(name: String, sql: String)] = [
        ("create clients, secrets and revocations", """
            CREATE TABLE gatehouse_clients (
                id text COLLATE "C" PRIMARY KEY,   -- ordered by bytes, as `store.list` pages
                name text NOT NULL,
                role text NOT NULL,
                allowed_scopes text NOT NULL,   -- space-separated (scopes contain no spaces, RFC 6749 §3.3)
                default_scopes text NOT NULL,
                token_lifetime bigint,
                enabled boolean NOT NULL,
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                last_used_at bigint,
                not_before bigint,
                instance text                   -- new on every creation: old tokens never fit a re-created client
            );
            CREATE TABLE gatehouse_secrets (
                id bigserial PRIMARY KEY,
                client_id text NOT NULL REFERENCES gatehouse_clients(id) ON DELETE CASCADE,
                verifier text NOT NULL,
                created_at bigint NOT NULL,
                expires_at bigint
            );
            CREATE INDEX gatehouse_secrets_by_client ON gatehouse_secrets(client_id);
            CREATE TABLE gatehouse_revocations (
                seq bigserial PRIMARY KEY,
                jti text NOT NULL UNIQUE,
                client_id text NOT NULL,
                expires_at bigint NOT NULL
            );
            CREATE INDEX gatehouse_revocations_by_expiry ON gatehouse_revocations(expires_at);
            """),
        ("change log fed by triggers, announced with NOTIFY", """
            CREATE TABLE gatehouse_changes (
                seq bigserial PRIMARY KEY,
                kind text NOT NULL,      -- 'client' or 'revocation'
                subject text NOT NULL,   -- the client id
                changed_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE FUNCTION gatehouse_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                change_kind text := 'client';
                change_subject text;
                change_seq bigint;
            BEGIN
                IF TG_TABLE_NAME = 'gatehouse_clients' THEN
                    change_subject := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
                ELSIF TG_TABLE_NAME = 'gatehouse_secrets' THEN
                    change_subject := CASE WHEN TG_OP = 'DELETE' THEN OLD.client_id ELSE NEW.client_id END;
                ELSE
                    change_kind := 'revocation';
                    change_subject := NEW.client_id;
                END IF;
                PERFORM pg_advisory_xact_lock(\(changeLock));
                INSERT INTO gatehouse_changes (kind, subject) VALUES (change_kind, change_subject) RETURNING seq INTO change_seq;
                -- Delivered at commit, to every session that LISTENs; the payload is only a hint to read the log.
                PERFORM pg_notify('gatehouse_changes', change_seq::text);
                RETURN NULL;
            END
            $$;
            -- Last-use times are not changes anyone must hear of: only the columns a decision depends on.
            CREATE TRIGGER gatehouse_clients_changed
                AFTER INSERT OR DELETE OR UPDATE OF name, role, allowed_scopes, default_scopes, token_lifetime, enabled,
                    updated_at, not_before, instance ON gatehouse_clients
                FOR EACH ROW EXECUTE FUNCTION gatehouse_note_change();
            CREATE TRIGGER gatehouse_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON gatehouse_secrets
                FOR EACH ROW EXECUTE FUNCTION gatehouse_note_change();
            CREATE TRIGGER gatehouse_revocations_added AFTER INSERT ON gatehouse_revocations
                FOR EACH ROW EXECUTE FUNCTION gatehouse_note_change();
            """),
        // The JSON array of `PublicKeyInfo` (public JWK members only), NULL for a client with a secret. Adding or
        // removing a key also sets updated_at, so the change trigger announces it to every host.
        ("public keys of secretless clients", "ALTER TABLE gatehouse_clients ADD COLUMN public_keys text"),
        // Hosts' public signing keys (`store.publishSigningKeys`). A new, changed or deleted key is a change every
        // host must hear of (it re-reads the keys on `invalidate`); a republication that only moves not_after is not.
        // The subject is not a client id (no client id starts with '~'), so no client's cache entry is named.
        ("hosts' public signing keys", """
            CREATE TABLE gatehouse_signing_keys (
                kid text COLLATE "C" PRIMARY KEY,
                alg text NOT NULL,
                jwk text NOT NULL,           -- JSON object of public members only
                not_before bigint NOT NULL,
                not_after bigint NOT NULL
            );
            CREATE INDEX gatehouse_signing_keys_by_expiry ON gatehouse_signing_keys(not_after);
            CREATE FUNCTION gatehouse_note_signing_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                change_seq bigint;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(changeLock));
                INSERT INTO gatehouse_changes (kind, subject) VALUES ('signing_key', '~signing-keys') RETURNING seq INTO change_seq;
                PERFORM pg_notify('gatehouse_changes', change_seq::text);
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER gatehouse_signing_keys_added_or_removed AFTER INSERT OR DELETE ON gatehouse_signing_keys
                FOR EACH ROW EXECUTE FUNCTION gatehouse_note_signing_key_change();
            CREATE TRIGGER gatehouse_signing_keys_changed AFTER UPDATE ON gatehouse_signing_keys
                FOR EACH ROW WHEN (OLD.jwk IS DISTINCT FROM NEW.jwk OR OLD.alg IS DISTINCT FROM NEW.alg
                                   OR OLD.not_before IS DISTINCT FROM NEW.not_before)
                EXECUTE FUNCTION gatehouse_note_signing_key_change();
            """),
        // `ClientRecord.jwksURI`, NULL for every client but a secretless one with its keys at a URL. Setting or
        // dropping it also sets updated_at, so the change trigger announces it to every host.
        ("keys of secretless clients at a URL", "ALTER TABLE gatehouse_clients ADD COLUMN jwks_uri text"),
        // Clients' ids are COLLATE "C"; the planner uses an index only for comparisons in the index's own collation,
        // so `s.client_id = c.id` (the lookup of every token with the auth cache off, of every cache miss and of
        // every health probe) could not use gatehouse_secrets_by_client and read the whole secrets table: 70 ms a
        // lookup with a million clients. Same collation on both sides; the index is rebuilt (about a second per
        // million secrets, with the table locked) and the column's statistics taken again.
        ("secrets keyed in the clients' collation", """
            ALTER TABLE gatehouse_secrets ALTER COLUMN client_id TYPE text COLLATE "C";
            ANALYZE gatehouse_secrets;
            """),
        // The listener's purge (every minute, on every host) looked for old changes by time with no index on it: a
        // scan of the whole log, which holds an hour of changes (two rows per client after a bulk import).
        ("change log purged by time through an index", "CREATE INDEX gatehouse_changes_by_time ON gatehouse_changes(changed_at)"),
        // Used client assertion jtis (`store.consumeAssertion`), shared by every host: one accepted anywhere is
        // refused everywhere until it expires. No trigger: nobody needs to hear of an insert. Expired rows are
        // deleted in batches by expires_at.
        ("used client assertions", """
            CREATE TABLE gatehouse_assertion_jtis (
                client_id text COLLATE "C" NOT NULL,
                jti text COLLATE "C" NOT NULL,
                expires_at bigint NOT NULL,
                PRIMARY KEY (client_id, jti)
            );
            CREATE INDEX gatehouse_assertion_jtis_by_expiry ON gatehouse_assertion_jtis(expires_at);
            """),
    ]

    /// Brings the database up to the latest version.
    static func migrate(_ connection: PostgresConnection) throws {
        while true {
            let applied: Int? = try connection.transaction {
                try connection.execute("SELECT pg_advisory_xact_lock(\(migrationLock))")
                // Looked up first, so a role without CREATE can run a database that is already migrated.
                if try connection.query("SELECT to_regclass('gatehouse_migrations') IS NULL").bool(0, 0) {
                    try connection.execute("""
                        CREATE TABLE gatehouse_migrations (
                            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                        """)
                }
                let current = Int(try connection.query("SELECT coalesce(max(version), 0) FROM gatehouse_migrations").int(0, 0) ?? 0)
                guard current <= migrations.count else {
                    throw RPCError(.storageFailure,
                        "database schema version \(current) is newer than this postgres-store knows (\(migrations.count)); upgrade Gatehouse")
                }
                guard current < migrations.count else { return nil }
                try connection.execute(migrations[current].sql)
                try connection.query("INSERT INTO gatehouse_migrations (version, name) VALUES ($1, $2)",
                                     [String(current + 1), migrations[current].name])
                return current + 1
            }
            guard let applied else { return }
            PluginLog.info("migrated database", ["store.migration": .string(migrations[applied - 1].name),
                                                 "store.version": .int(Int64(applied))])
        }
    }
}
