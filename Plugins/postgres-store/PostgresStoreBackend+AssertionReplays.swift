import PluginProtocol
import StoreKit

/// Used client assertion `jti`s in `gatehouse_assertion_jtis` (PostgresSchema), one row per (client, jti):
/// the primary key makes "first use wins" atomic across every host on the database.
extension PostgresStoreBackend {
    var keepsAssertionReplays: Bool { true }

    /// One statement: a new row, or an expired row taken over (a client may reuse a jti once the earlier
    /// assertion can no longer be valid), counts 1; a live row makes the insert do nothing and counts 0.
    /// Not retried on a lost connection: the insert may have committed, and the retry would call the
    /// client's only use a replay. The call fails instead (503), and the client signs a new assertion.
    func consumeAssertion(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) throws -> Bool {
        try pool.run { connection in
            let inserted = try connection.query("""
                INSERT INTO gatehouse_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
                ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
                WHERE gatehouse_assertion_jtis.expires_at <= $4
                """, [clientID, tokenID, String(expiresAt), String(now)])
            if assertionPurge.isDue(now: now) { purgeAssertions(on: connection, now: now) }
            return inserted.affected == 1
        }
    }

    /// Deletes one batch of expired rows. A failure is only logged: the answer already stands, and the
    /// rows go with a later batch.
    private func purgeAssertions(on connection: PostgresConnection, now: Int64) {
        do throws(RPCError) {
            let deleted = try connection.query("""
                DELETE FROM gatehouse_assertion_jtis WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM gatehouse_assertion_jtis WHERE expires_at <= $1 LIMIT $2))
                """, [String(now), String(assertionPurge.batchSize)]).affected
            assertionPurge.finished(deleted: deleted, now: now)
        } catch {
            assertionPurge.finished(deleted: 0, now: now)
            PluginLog.warning("cannot delete expired assertion ids", ["error": .string(error.message)])
        }
    }
}
