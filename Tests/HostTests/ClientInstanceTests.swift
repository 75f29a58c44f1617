import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// A token belongs to the client instance that received it, and a protected request is judged by what that
/// client may hold now: the served binary, clients changed with the CLI as an operator changes them.
@Suite(.serialized) struct ClientInstanceTests {
    private func token(_ host: ServedGatehouse, _ client: (id: String, secret: String), scope: String? = nil) throws -> String {
        var arguments = ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials"]
        if let scope { arguments += ["-d", "scope=\(scope)"] }
        let body = try runCommand("/usr/bin/curl", arguments + [host.url + "/api/v1/oauth/token"])
        guard let token = try JSONParser.parse(body)["access_token"]?.stringValue else { throw TestFailure("token request: \(body)") }
        return token
    }

    private func metrics(_ host: ServedGatehouse, _ token: String) throws -> ParsedResponse {
        try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")])
    }

    @Test func aRecreatedClientIDDoesNotReviveTheOldTokens() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let first = try host.addClient(name: "reporter", scopes: "metrics reports", extra: ["--id", "reporter"])
        let old = try token(host, first)
        #expect(try metrics(host, old).status == 200)
        try host.cli(["client", "remove", "reporter"])
        // Same id, fewer scopes, at once (within the same second as the old token, as a script would).
        let second = try host.addClient(name: "reporter", scopes: "metrics", extra: ["--id", "reporter"])
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, old).status) == 401 }
        #expect(refused, "a token of the removed client still works for the new one")
        let answer = try metrics(host, old)
        #expect(answer.status == 401 && answer.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true)
        let verify = try host.get("/api/v1/auth/verify", headers: [("Authorization", "Bearer \(old)"),
                                                                     ("X-Forwarded-Uri", "/api/v1/metrics")])
        #expect(verify.status == 401)
        // The new client's own tokens work.
        #expect(try metrics(host, try token(host, second)).status == 200)
    }

    @Test func narrowingAClientsScopesTakesEffectAtOnce() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let client = try host.addClient(name: "scraper", scopes: "metrics reports")
        let wide = try token(host, client, scope: "metrics reports")
        #expect(try metrics(host, wide).status == 200)
        try host.cli(["client", "update", client.id, "--scope", "reports", "--default-scope", "reports"])
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, wide).status) == 403 }
        #expect(refused, "a token keeps a scope its client may no longer hold")
        let verify = try host.get("/api/v1/auth/verify", headers: [("Authorization", "Bearer \(wide)"),
                                                                     ("X-Forwarded-Uri", "/api/v1/metrics")])
        #expect(verify.status == 403)
        // Introspection (RFC 7662) reports what the token is worth now.
        let introspector = try host.addClient(name: "api", scopes: "introspect")
        let introspected = try runCommand("/usr/bin/curl", ["-s", "-u", "\(introspector.id):\(introspector.secret)", "-d", "token=\(wide)",
                                                            host.url + "/api/v1/oauth/introspect"])
        #expect(try JSONParser.parse(introspected)["scope"] == "reports", "\(introspected)")
        // Widening again restores access: the token's own scopes were never changed, only judged.
        try host.cli(["client", "update", client.id, "--scope", "metrics reports"])
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metrics(host, wide).status) == 200 })
    }

    @Test func clientsFromBeforeInstancesKeepTheirTokens() async throws {
        // A database of the schema before instances (sqlite-store migration 1) and a token as hosts then signed
        // it, without `client_instance`: the upgrade must not void it.
        let directory = TemporaryDirectory()
        let before = try TestGatehouse(directory: directory)
        try await before.addClient("veteran")
        before.stop()
        let database = directory.path + "/data/gatehouse.sqlite3"
        let downgraded = try runCommand("/usr/bin/env", ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            # Back to schema 1: undo every later migration, whatever later ones add (tables, triggers, columns).
            schema1 = {"clients": {"id", "name", "role", "allowed_scopes", "default_scopes", "token_lifetime", "enabled",
                                   "created_at", "updated_at", "last_used_at", "not_before"},
                       "secrets": None, "revocations": None, "sqlite_sequence": None}
            # Triggers first: a later table they refer to cannot go while they stand.
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                db.execute(f"DROP TRIGGER {name}")
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                if name not in schema1:
                    db.execute(f"DROP TABLE {name}")
            for column in [row[1] for row in db.execute("PRAGMA table_info(clients)")]:
                if column not in schema1["clients"]:
                    db.execute(f"ALTER TABLE clients DROP COLUMN {column}")
            db.execute("PRAGMA user_version = 1")
            db.commit()
            """, database], mergeErrors: true)
        #expect(downgraded.isEmpty, "the downgrade to schema 1 failed: \(downgraded)")
        let host = try TestGatehouse(directory: directory)
        defer { host.stop() }
        let record = try await host.gatehouse.store.call(ClientStore.get, ClientIDParams(clientID: "veteran")).client
        #expect(record != nil && record?.instance == nil)
        let keys = try SigningKeyRing.loadOrCreate(directory: directory.path + "/data", now: 0)
        let codec = TokenCodec(keys: keys, issuer: "http://gatehouse.test", audience: "gatehouse")
        let now = Int64(time(nil))
        let old = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "veteran", audience: codec.audience, issuedAt: now,
                                         expiresAt: now + 600, tokenID: "old", scopes: ["metrics"]))
        #expect(try host.metrics(token: old).status == 200)
        #expect(try host.metrics(token: try host.token(id: "veteran")).status == 200)
        // Without an instance, a token from before the client's creation is not its own.
        let earlier = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "veteran", audience: codec.audience,
                                             issuedAt: (record?.createdAt ?? now) - 5, expiresAt: now + 600, tokenID: "earlier",
                                             scopes: ["metrics"]))
        #expect(try host.metrics(token: earlier).status == 401)
    }
}
