import Foundation
import Glibc
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// A client assertion's `jti` is used once across every host sharing a store and across restarts
/// (`store.consumeAssertion`, Docs/secretless-clients.md): `gatehouse serve` hosts, a key from `openssl genpkey`
/// registered with the CLI, assertions signed here and sent with curl.
@Suite struct SharedAssertionReplayTests {
    static let issuer = "http://gatehouse.test"
    static let client = "replay-test"

    /// An Ed25519 key made with openssl, registered as `client` on `host`'s store; the signer uses its private half.
    private func register(on host: ServedGatehouse) throws -> ClientAssertionTests.Signer {
        let directory = host.directory.path
        _ = try runCommand("/usr/bin/openssl", ["genpkey", "-algorithm", "ed25519", "-out", directory + "/client.pem"])
        _ = try runCommand("/usr/bin/openssl", ["pkey", "-in", directory + "/client.pem", "-pubout", "-out", directory + "/client.pub.pem"])
        // With the host's config, so the client lands in the host's store (PostgreSQL too).
        let config = FileManager.default.fileExists(atPath: directory + "/gatehouse.json") ? ["--config", directory + "/gatehouse.json"] : []
        try host.cli(["client", "add", "--name", "replay test", "--id", Self.client, "--scope", "metrics",
                      "--public-key", directory + "/client.pub.pem", "--key-id", "ed-1"] + config)
        let pem = try String(contentsOfFile: directory + "/client.pem", encoding: .utf8)
        return ClientAssertionTests.Signer(key: try AsymmetricKey(privateKeyPEM: pem, algorithm: .edDSA), kid: "ed-1")
    }

    /// The status line and headers of a token request authenticated by `assertion` (RFC 7523 §2.2).
    private func tokenRequest(_ host: ServedGatehouse, _ assertion: String) throws -> String {
        try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-o", "/dev/null", "-D", "-", "-d", "grant_type=client_credentials",
                                         "-d", "client_id=\(Self.client)", "-d", "client_assertion_type=\(ClientAssertionTests.clientAssertionType)",
                                         "-d", "client_assertion=\(assertion)", host.url + "/api/v1/oauth/token"])
    }

    private func status(_ host: ServedGatehouse, _ assertion: String) throws -> String {
        String(try tokenRequest(host, assertion).split(separator: " ").dropFirst().first ?? "")
    }

    @Test func anAssertionUsedOnOneHostIsRefusedOnAnotherSharingPostgreSQL() throws {
        let database = try PostgresServer()
        defer { database.stop(); database.removeFiles() }
        let url = database.url(database: try database.database("gatehouse").name)
        let config = #"{"plugins": {"store": {"command": "gatehouse-postgres-store", "config": {"url": "\#(url)"}}}}"#
        let a = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { a.stop() }
        let b = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { b.stop() }
        let signer = try register(on: a)
        let used = try signer.assertion(Self.client)
        #expect(try status(a, used) == "200", "\(a.log.suffix(2000))")
        #expect(try status(b, used) == "401", "host B accepted an assertion host A had accepted")
        #expect(try status(a, used) == "401", "host A accepted its own assertion twice")
        #expect(try status(b, try signer.assertion(Self.client)) == "200", "host B takes a fresh assertion")
        #expect(b.log.contains("replayed_assertion"))

        // While the database is down nobody can say an assertion is new: 503 with Retry-After (as for a secret),
        // and the assertion is not spent, so it works once the database is back.
        let during = try signer.assertion(Self.client)
        database.stop()
        let refused = try tokenRequest(a, during)
        #expect(refused.hasPrefix("HTTP/1.1 503") && refused.lowercased().contains("retry-after:"), "\(refused)")
        try database.start()
        #expect(PluginTestSupport.eventually(timeout: .seconds(15)) { (try? status(a, during)) == "200" },
                "an assertion refused during the outage stayed spent:\n\(a.log.suffix(2000))")
        // B may still be reconnecting (503); it never takes the assertion A took.
        var onB = ""
        #expect(PluginTestSupport.eventually(timeout: .seconds(15)) {
            onB = (try? status(b, during)) ?? ""
            return onB != "503"
        })
        #expect(onB == "401", "host B after the outage: \(onB)")
    }

    @Test func anAssertionUsedBeforeARestartIsRefusedAfterItWithSQLite() throws {
        let host = try ServedGatehouse(issuer: Self.issuer)
        defer { host.stop() }
        let signer = try register(on: host)
        let used = try signer.assertion(Self.client)
        #expect(try status(host, used) == "200", "\(host.log.suffix(2000))")
        // Killed, not stopped: nothing gets the chance to flush (sqlite-store writes jtis without an fsync, but
        // into the WAL before it answers).
        host.signal(SIGKILL)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { !host.isRunning })
        try host.start()
        #expect(try status(host, used) == "401", "the restarted host accepted an assertion it had accepted before")
        #expect(try status(host, try signer.assertion(Self.client)) == "200")
    }
}
