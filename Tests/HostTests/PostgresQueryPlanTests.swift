import Foundation
import PluginProtocol
import Testing
@testable import Host

/// postgres-store's per-token and periodic statements can use an index, so they cost the same with a million
/// clients as with ten (Docs/stores.md, "A million clients"). A small test table would be read whole either
/// way, so each plan is asked for with sequential scans priced out (`enable_seqscan = off`): a plan that still
/// scans a table has no index it can use. The statements are postgres-store's own, copied here.
@Suite struct PostgresQueryPlanTests {
    /// PostgresStoreBackend.selectClientsOrDecoy: the lookup behind every token with the auth cache off (a batch of
    /// them), every cache miss and every health probe; and selectClient, behind get, update and the rest.
    static let authenticationLookup = """
        SELECT c.id, c.name, c.role, c.allowed_scopes, c.default_scopes, c.token_lifetime, c.enabled, c.created_at, c.updated_at,
        c.last_used_at, c.not_before, c.instance, c.public_keys, c.jwks_uri, s.verifier, s.created_at, s.expires_at, q.ord
        FROM unnest('{"client-a","nobody","client-b"}'::text[]) WITH ORDINALITY AS q(id, ord)
        LEFT JOIN gatehouse_clients known ON known.id = q.id
        JOIN gatehouse_clients c ON c.id = coalesce(known.id, '~decoy-for-unknown-ids')
        LEFT JOIN gatehouse_secrets s ON s.client_id = c.id ORDER BY q.ord, s.created_at, s.id
        """
    static let clientLookup = """
        SELECT c.id, s.verifier FROM gatehouse_clients c
        LEFT JOIN gatehouse_secrets s ON s.client_id = c.id WHERE c.id = 'client-a' ORDER BY s.created_at, s.id
        """
    /// ChangeListener.purgeOccasionally, every minute on every host.
    static let changePurge = "DELETE FROM gatehouse_changes WHERE changed_at < now() - interval '1 hour'"
    /// ChangeListener.readLog and RevocationList's poll (store.revocations, every second).
    static let changesAfter = "SELECT seq, subject FROM gatehouse_changes WHERE seq > 5 ORDER BY seq LIMIT 1000"
    static let revocationsAfter = """
        SELECT jti, expires_at, (SELECT coalesce(max(seq), 0) FROM gatehouse_revocations) FROM gatehouse_revocations
        WHERE seq > 5 AND expires_at > 0 ORDER BY seq
        """
    /// PostgresStoreBackend.addRevocation, before each new revocation.
    static let revocationPurge = "DELETE FROM gatehouse_revocations WHERE expires_at <= 0"

    @Test func perTokenAndPeriodicStatementsUseAnIndex() async throws {
        let server = try PostgresServer.shared.get()
        let database = try server.database()
        var spec = PluginSpec(name: "store", role: .store, command: PluginTestSupport.executable("gatehouse-postgres-store"))
        spec.config = ["url": .string(database.conninfo)]
        let pool = try PluginTestSupport.startPool(spec)  // migrates the database
        defer { pool.shutdown() }
        for id in ["client-a", "client-b"] {
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: StoreFixtures.client(id), secret: StoreFixtures.secret))
        }
        for statement in [Self.authenticationLookup, Self.clientLookup, Self.changePurge, Self.changesAfter, Self.revocationsAfter, Self.revocationPurge] {
            let plan = try server.psql("SET enable_seqscan = off; EXPLAIN \(statement)", database: database.name)
            #expect(!plan.contains("Seq Scan"), "no index serves \(statement.prefix(60))…:\n\(plan)")
        }
    }
}
