import Foundation
import Glibc
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `gatehouse keys list|rotate` as an operator runs them, on a data directory.
@Suite struct KeysCommandTests {
    private func keys(_ arguments: [String], _ directory: TemporaryDirectory) throws -> String {
        try runCommand(PluginTestSupport.executable("gatehouse"), ["keys"] + arguments + ["--data", directory.path + "/data"],
                       mergeErrors: true)
    }

    @Test func listShowsStatesAndRotateKeepsTheRingsAlgorithm() throws {
        let directory = TemporaryDirectory()
        let listed = try keys(["list"], directory)
        let lines = listed.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("active ") && $0.contains(" RS256 ") && $0.contains("active since") && $0.contains("rotates") },
                "\(listed)")
        #expect(lines.contains { $0.hasPrefix("published ") && $0.contains(" RS256 ") }, "\(listed)")
        // Switch to ES256 explicitly; later plain rotations keep ES256 even without the config that chose it.
        let switched = try keys(["rotate", "--algorithm", "ES256"], directory)
        #expect(switched.contains("is now current") || switched.contains("becomes current"), "\(switched)")
        let ring = try SigningKeyRing.loadOrCreate(directory: directory.path + "/data", now: 0)
        let target = ring.keys.contains { $0.algorithm == .es256 }
        #expect(target, "an ES256 key is active or scheduled")
        if ring.current.algorithm == .es256 {
            let again = try keys(["rotate"], directory)
            #expect(again.contains("is now current"), "\(again)")
            let after = try SigningKeyRing.loadOrCreate(directory: directory.path + "/data", now: 0)
            #expect(after.current.algorithm == .es256, "a plain rotation must not switch back to the default RS256")
            #expect(after.keys.contains { after.state(of: $0) == .retiring && $0.algorithm == .rs256 },
                    "the RS256 key keeps verifying its tokens")
        }
        let bad = try keys(["rotate", "--algorithm", "none"], directory)
        #expect(bad.contains("--algorithm must be RS256, ES256, EdDSA or HS256"), "\(bad)")
        // Never a private key on the terminal.
        #expect(!(listed + switched).contains("PRIVATE KEY"))
        var info = stat()
        stat(SigningKeyRing.path(in: directory.path + "/data"), &info)
        #expect(info.st_mode & 0o077 == 0)
    }
}

/// `gatehouse keys withdraw` against a running host: the key and its tokens are gone within a second, on the
/// bearer check, introspection and forward auth alike, and the next key signs.
@Suite struct KeysWithdrawTests {
    private func token(_ host: ServedGatehouse, _ client: (id: String, secret: String)) throws -> String {
        let body = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-u", "\(client.id):\(client.secret)",
                                                    "-d", "grant_type=client_credentials", host.url + "/api/v1/oauth/token"])
        guard let access = try JSONParser.parse(body)["access_token"]?.stringValue else { throw TestFailure("no token: \(body)") }
        return access
    }

    private func kid(_ token: String) throws -> String? {
        try JSONParser.parse(Base64Decode.url(String(token.split(separator: ".").first ?? "")))["kid"]?.stringValue
    }

    /// (bearer check status, introspection's `active`, forward auth status) for `token`.
    private func judged(_ host: ServedGatehouse, _ token: String, introspector: (id: String, secret: String)) throws -> (Int, Bool?, Int) {
        let bearer = try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")]).status
        let introspected = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-u", "\(introspector.id):\(introspector.secret)",
                                                            "-d", "token=\(token)", host.url + "/api/v1/oauth/introspect"])
        let forward = try host.get("/api/v1/auth/verify", headers: [("Authorization", "Bearer \(token)"), ("X-Forwarded-Method", "GET"),
                                                                    ("X-Forwarded-Uri", "/api/v1/metrics")]).status
        return (bearer, try JSONParser.parse(introspected)["active"]?.boolValue, forward)
    }

    private func jwksKids(_ host: ServedGatehouse) throws -> Set<String> {
        let keys = try JSONParser.parse(try host.get("/.well-known/jwks.json").body)["keys"]?.arrayValue ?? []
        return Set(keys.compactMap { $0["kid"]?.stringValue })
    }

    @Test func aWithdrawnKeysTokensAreRefusedAtOnceAndTheNextKeySigns() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let scraper = try host.addClient(name: "scraper")
        let introspector = try host.addClient(name: "api", scopes: "introspect")
        let before = try token(host, scraper)
        let compromised = try #require(try kid(before))
        let (bearer, active, forward) = try judged(host, before, introspector: introspector)
        #expect(bearer == 200 && active == true && forward == 200, "accepted before the withdrawal (\(bearer), \(String(describing: active)), \(forward))")
        let listed = try host.cli(["keys", "list"])
        let next = try #require(listed.split(separator: "\n").first { $0.hasPrefix("published ") }?.split(separator: " ").dropFirst().first)

        let output = try host.cli(["keys", "withdraw", compromised])
        #expect(output.contains("is withdrawn") && output.contains("Signing key \(next) is now current"), "\(output)")
        let started = Date()
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { (try? judged(host, before, introspector: introspector).0) == 401 },
                "\(host.log)")
        #expect(Date().timeIntervalSince(started) < 2.5, "refused within about a second")
        let (bearerAfter, activeAfter, forwardAfter) = try judged(host, before, introspector: introspector)
        #expect(bearerAfter == 401 && activeAfter == false && forwardAfter == 401)
        #expect(try !jwksKids(host).contains(compromised))
        let after = try token(host, scraper)
        #expect(try kid(after) == String(next), "the published next key signs")
        #expect(try judged(host, after, introspector: introspector).0 == 200)
        let relisted = try host.cli(["keys", "list"])
        #expect(relisted.split(separator: "\n").contains { $0.hasPrefix("withdrawn  \(compromised) ") }, "\(relisted)")
        #expect(relisted.split(separator: "\n").contains { $0.hasPrefix("published ") }, "a new next key is published:\n\(relisted)")
    }

    @Test func theOnlyHS256KeyIsWithdrawnOnlyWithForce() throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let gatehouse = PluginTestSupport.executable("gatehouse")
        _ = try runCommand(gatehouse, ["keys", "rotate", "--algorithm", "HS256", "--data", data], mergeErrors: true)
        let ring = try SigningKeyRing.loadOrCreate(directory: data, now: 0)
        let refused = try runCommand(gatehouse, ["keys", "withdraw", ring.currentID, "--data", data], mergeErrors: true)
        #expect(refused.contains("only key that can sign") && refused.contains("--force"), "\(refused)")
        #expect(try SigningKeyRing.loadOrCreate(directory: data, now: 0).currentID == ring.currentID, "nothing changed")
        let forced = try runCommand(gatehouse, ["keys", "withdraw", ring.currentID, "--force", "--data", data], mergeErrors: true)
        #expect(forced.contains("is withdrawn"), "\(forced)")
        #expect(try SigningKeyRing.loadOrCreate(directory: data, now: 0).key(id: ring.currentID) == nil)
        let unknown = try runCommand(gatehouse, ["keys", "withdraw", "nope", "--data", data], mergeErrors: true)
        #expect(unknown.contains("no key nope"), "\(unknown)")
        // Exit 1 for a refusal, as for every other command's (Docs/operations.md, exit codes).
        #expect(try GatehouseCLI.run(["keys", "withdraw", "nope"], in: directory).status == 1)
        #expect(try GatehouseCLI.run(["keys", "withdraw"], in: directory).status == 2)
    }
}
