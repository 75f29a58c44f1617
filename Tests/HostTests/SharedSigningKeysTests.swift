import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Two `gatehouse serve` hosts sharing one sqlite-store file (or one PostgreSQL database), each with its own private signing keys: they
/// publish their public keys through the store, so a token from either verifies on both and both JWK Sets
/// hold the union (Docs/deployment.md, "Several hosts").
@Suite struct SharedSigningKeysTests {
    static let issuer = "http://gatehouse.test"

    private func cli(_ host: ServedGatehouse, _ arguments: [String]) throws -> String {
        try runCommand(PluginTestSupport.executable("gatehouse"),
                       arguments + ["--config", host.directory.path + "/gatehouse.json", "--data", host.directory.path + "/data"])
    }

    private func addScraper(_ host: ServedGatehouse) throws -> (id: String, secret: String) {
        let client = try JSONParser.parse(try cli(host, ["client", "add", "--name", "scraper", "--scope", "metrics", "--json"]))
        return try (id: #require(client["client_id"]?.stringValue), secret: #require(client["client_secret"]?.stringValue))
    }

    private func accessToken(_ host: ServedGatehouse, _ client: (id: String, secret: String)) throws -> String {
        let body = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-u", "\(client.id):\(client.secret)",
                                                    "-d", "grant_type=client_credentials", host.url + "/api/v1/oauth/token"])
        guard let access = try JSONParser.parse(body)["access_token"]?.stringValue else { throw TestFailure("no token: \(body)") }
        return access
    }

    private func kid(_ token: String) throws -> String? {
        let header = String(token.split(separator: ".").first ?? "")
        return try JSONParser.parse(Base64Decode.url(header))["kid"]?.stringValue
    }

    private func accepts(_ host: ServedGatehouse, _ token: String) -> Bool {
        (try? host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")]).status) == 200
    }

    private func status(_ host: ServedGatehouse, _ token: String) -> Int? {
        try? host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")]).status
    }

    private func jwksKids(_ host: ServedGatehouse) throws -> Set<String> {
        let keys = try JSONParser.parse(try host.get("/.well-known/jwks.json").body)["keys"]?.arrayValue ?? []
        return Set(keys.compactMap { $0["kid"]?.stringValue })
    }

    @Test func hostsOnOneSQLiteFileVerifyEachOthersTokensAndRotations() throws {
        let shared = TemporaryDirectory()
        try twoHosts(config: """
            {"plugins": {"store": {"command": "gatehouse-sqlite-store", "config": {"path": "\(shared.path)/gatehouse.sqlite3", "changePollMs": 100}}}}
            """)
    }

    /// The same on one writable file-store file, which its watcher reloads and announces.
    @Test func hostsOnOneFileStoreFileVerifyEachOthersTokensAndRotations() throws {
        let shared = TemporaryDirectory()
        try twoHosts(config: """
            {"plugins": {"store": {"command": "gatehouse-file-store", "config": {"path": "\(shared.path)/clients.json", "reloadMs": 100}}}}
            """)
    }

    /// The same on PostgreSQL: a publication reaches the other host through the change log's NOTIFY.
    @Test func hostsOnOnePostgreSQLDatabaseVerifyEachOthersTokensAndRotations() throws {
        let database = try PostgresServer()
        defer { database.stop(); database.removeFiles() }
        let url = database.url(database: try database.database("gatehouse").name)
        try twoHosts(config: """
            {"plugins": {"store": {"command": "gatehouse-postgres-store", "config": {"url": "\(url)"}}}}
            """)
    }

    private func twoHosts(config: String) throws {
        let a = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { a.stop() }
        let b = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { b.stop() }
        let scraper = try addScraper(a)

        // Each host made its own keys; none was copied.
        // file-store hosts see the CLI's new client after their next reload.
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { (try? accessToken(a, scraper)) != nil })
        let fromA = try accessToken(a, scraper)
        let kidA = try #require(try kid(fromA))
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(b, fromA) }, "B verifies A's token:\n\(b.log)")
        #expect(try jwksKids(b).contains(kidA), "B's JWK Set holds A's key")
        let fromB = try accessToken(b, scraper)
        #expect(try kid(fromB) != kidA)
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(a, fromB) }, "A verifies B's token")
        #expect(try jwksKids(a) == jwksKids(b), "both serve the union")

        // A rotates: its new key signs within a second, and B learns it within a few.
        _ = try cli(a, ["keys", "rotate"])
        var rotated = ""
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) {
            rotated = (try? accessToken(a, scraper)) ?? ""
            return (try? kid(rotated)) != kidA
        }, "A signs with its new key")
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(b, rotated) }, "B verifies A's new key:\n\(b.log)")
        #expect(accepts(b, fromA), "A's retired key still verifies its tokens on B")

        // A withdraws the key it signs with now: B refuses that key's tokens within seconds and stops serving it.
        let compromised = try #require(try kid(rotated))
        _ = try cli(a, ["keys", "withdraw", compromised])
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { status(b, rotated) == 401 }, "B refuses the withdrawn key:\n\(b.log)")
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { (try? jwksKids(b).contains(compromised)) == false })
        #expect(status(a, rotated) == 401)
        #expect(try !jwksKids(a).contains(compromised))
        let fresh = try accessToken(a, scraper)
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(b, fresh) }, "B verifies A's next key")
        #expect(accepts(b, fromA) && accepts(b, fromB), "the other keys are untouched")
        let published = try JSONParser.parse(try a.get("/.well-known/jwks.json").body)
        for key in published["keys"]?.arrayValue ?? [] {
            let names = Set((key.objectValue ?? [:]).keys)
            #expect(names.isDisjoint(with: ["d", "p", "q", "dp", "dq", "qi", "k"]))
        }
    }

    /// A host is gone (decommissioned, its data directory too) and its key leaked: `keys withdraw` on another
    /// host takes it from the store, so every host drops it from its union and refuses its tokens, and a host
    /// that starts later never sees it (Docs/operations.md, "A signing key is compromised").
    @Test func aDecommissionedHostsKeyIsWithdrawnFromAnotherHost() throws {
        let shared = TemporaryDirectory()
        let config = """
            {"plugins": {"store": {"command": "gatehouse-sqlite-store", "config": {"path": "\(shared.path)/gatehouse.sqlite3", "changePollMs": 100}}}}
            """
        let a = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { a.stop() }
        let b = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { b.stop() }
        let scraper = try addScraper(b)
        let fromA = try accessToken(a, scraper)
        let leaked = try #require(try kid(fromA))
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(b, fromA) }, "B verifies A's token:\n\(b.log)")
        a.stop()

        let withdraw = { (kid: String) throws -> String in
            try runCommand(PluginTestSupport.executable("gatehouse"),
                           ["keys", "withdraw", kid, "--config", b.directory.path + "/gatehouse.json", "--data", b.directory.path + "/data"],
                           mergeErrors: true)
        }
        let output = try withdraw(leaked)
        #expect(output.contains("Signing key \(leaked) is withdrawn") && output.contains("another host's key"), "\(output)")
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { status(b, fromA) == 401 }, "B refuses the leaked key:\n\(b.log)")
        #expect(try !jwksKids(b).contains(leaked))
        #expect(try cli(b, ["keys", "list"]).split(separator: "\n").contains { $0.hasPrefix("withdrawn  \(leaked) ") })
        let fromB = try accessToken(b, scraper)
        #expect(accepts(b, fromB), "B's own keys are untouched")
        let c = try ServedGatehouse(config: config, issuer: Self.issuer)
        defer { c.stop() }
        let kidsOfC = try jwksKids(c)
        #expect(status(c, fromA) == 401 && !kidsOfC.contains(leaked), "the store no longer holds it")
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { accepts(c, fromB) }, "but still holds B's key")

        let again = try withdraw(leaked)
        #expect(again.contains("already withdrawn"), "\(again)")
        let unknown = try withdraw("nope")
        #expect(unknown.contains("no key nope in this host's key ring nor in the store"), "\(unknown)")
    }

    /// HS256 is never published: a host that signs with it on a store that shares keys says, at start, that
    /// other hosts need its key file (Docs/deployment.md, "Several hosts").
    @Test func anHS256HostOnASharingStoreSaysItsKeyIsNotShared() throws {
        let host = try ServedGatehouse(config: #"{"token": {"signing_algorithm": "HS256"}}"#)
        defer { host.stop() }
        #expect(host.log.contains("signs with HS256, whose key is never published"), "\(host.log)")
        let rs256 = try ServedGatehouse()
        defer { rs256.stop() }
        #expect(!rs256.log.contains("signs with HS256"))
    }
}
