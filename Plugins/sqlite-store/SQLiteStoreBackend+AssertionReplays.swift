import PluginProtocol
import StoreKit

/// Used client assertion `jti`s in the `assertion_jtis` table, one row per (client, jti). SQLite's write lock
/// makes "first use wins" atomic for every process sharing the file.
///
/// Written with `synchronous = NORMAL`, unlike every other write here: in WAL mode the commit is in the log
/// file before the call returns, so it survives a crash of the plugin or the host (a host restarted a moment
/// later still refuses the assertion), but it is not fsynced; the next `FULL` commit (any client change, a
/// last-use batch) or checkpoint makes it survive a power cut too. With an fsync per assertion the store's one
/// thread managed about 540 private_key_jwt tokens a second here, against 8,000 without the store; what a
/// power cut can lose is the last moments' jtis, replayable only by whoever captured those assertions.
extension SQLiteStoreBackend {
    var keepsAssertionReplays: Bool { true }

    /// One statement: a new row, or an expired row taken over (a client may reuse a jti once the earlier
    /// assertion can no longer be valid), changes 1 row; a live row makes the upsert change none.
    func consumeAssertion(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) throws -> Bool {
        let statements = try assertionStatements ?? prepareAssertionStatements()
        try db.execute("PRAGMA synchronous = NORMAL")
        defer { try? db.execute("PRAGMA synchronous = FULL") }
        try statements.consume.bind(.text(clientID), .text(tokenID), .integer(expiresAt), .integer(now)).run()
        let fresh = db.changes == 1
        if assertionPurge.isDue(now: now) {
            // A failure is only logged: the answer already stands, and the rows go with a later batch.
            do throws(RPCError) {
                try statements.purge.bind(.integer(now), .integer(Int64(assertionPurge.batchSize))).run()
                assertionPurge.finished(deleted: db.changes, now: now)
            } catch {
                assertionPurge.finished(deleted: 0, now: now)
                PluginLog.warning("cannot delete expired assertion ids", ["error": .string(error.message)])
            }
        }
        return fresh
    }

    private func prepareAssertionStatements() throws -> (consume: SQLiteStatement, purge: SQLiteStatement) {
        let statements = (consume: try db.prepare("""
                              INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES (?1, ?2, ?3)
                              ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
                              WHERE assertion_jtis.expires_at <= ?4
                              """),
                          purge: try db.prepare("""
                              DELETE FROM assertion_jtis WHERE rowid IN (
                                  SELECT rowid FROM assertion_jtis WHERE expires_at <= ?1 LIMIT ?2)
                              """))
        assertionStatements = statements
        return statements
    }
}
