import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Three `gatehouse serve` hosts on one PostgreSQL behind a real nginx upstream (round robin), as
/// Docs/deployment.md "Several hosts" sets them up: each host makes its own signing keys in its own data
/// directory and publishes only their public halves through the store, so every host's JWK Set is the union.
@Suite struct MultiHostTests {
    static let issuer = "http://gatehouse.test"

    /// Starts the hosts one after another, each with a data directory of its own: nothing is copied.
    private func hosts(url: String) throws -> [ServedGatehouse] {
        let config = """
            {"plugins": {"store": {"command": "gatehouse-postgres-store", "config": {"url": "\(url)"}}}}
            """
        return try (0..<3).map { _ in try ServedGatehouse(config: config, issuer: Self.issuer) }
    }

    private func kid(_ token: String) -> String? { ResourceServerVerifierTests.kid(token) }

    private func cli(_ host: ServedGatehouse, _ arguments: [String]) throws -> String {
        try runCommand(PluginTestSupport.executable("gatehouse"),
                       arguments + ["--config", host.directory.path + "/gatehouse.json", "--data", host.directory.path + "/data"])
    }

    private func token(_ url: String, _ client: (id: String, secret: String)) throws -> (status: String, body: String) {
        let output = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-w", "\n%{http_code}", "-u", "\(client.id):\(client.secret)",
                                                      "-d", "grant_type=client_credentials", url + "/api/v1/oauth/token"])
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
    }

    private func accessToken(_ url: String, _ client: (id: String, secret: String)) throws -> String {
        let (status, body) = try token(url, client)
        guard status == "200", let access = try JSONParser.parse(body)["access_token"]?.stringValue else {
            throw TestFailure("token request to \(url): \(status) \(body)")
        }
        return access
    }

    private func metricsStatus(_ url: String, _ access: String) throws -> String {
        try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                         "-H", "Authorization: Bearer \(access)", url + "/api/v1/metrics"])
    }

    @Test func threeHostsOnOneDatabaseBehindNginx() throws {
        let database = try PostgresServer()
        defer { database.stop(); database.removeFiles() }
        let url = database.url(database: try database.database("gatehouse").name)
        let hosts = try hosts(url: url)
        defer { hosts.forEach { $0.stop() } }
        let port = try ServedGatehouse.freePort()
        let nginx = try NginxUnderTest(servers: """
            upstream gatehouse { \(hosts.map { "server 127.0.0.1:\($0.port) max_fails=2 fail_timeout=5s;" }.joined(separator: " ")) }
            server {
                listen 127.0.0.1:\(port);
                location / { proxy_pass http://gatehouse; proxy_next_upstream error timeout http_503; }
            }
            """, waitingFor: port)
        defer { nginx.stop() }
        let balanced = "http://127.0.0.1:\(port)"

        // The CLI against PostgreSQL, as against SQLite; a client made through one host's config.
        let json = try JSONParser.parse(try cli(hosts[0], ["client", "add", "--name", "scraper", "--scope", "metrics", "--json"]))
        let client = try (id: #require(json["client_id"]?.stringValue), secret: #require(json["client_secret"]?.stringValue))
        #expect(try cli(hosts[2], ["client", "list"]).contains(client.id))

        // A token from host A works on B and C, and through the balancer; each host signs with a key of its own.
        let fromA = try accessToken(hosts[0].url, client)
        let kids = try hosts.map { try #require(kid(try accessToken($0.url, client))) }
        #expect(Set(kids).count == 3, "every host signs with its own key: \(kids)")
        for host in hosts { #expect(try metricsStatus(host.url, fromA) == "200", "host \(host.port)\n\(host.log)") }
        for _ in 0..<3 { #expect(try metricsStatus(balanced, fromA) == "200") }
        try checkRotation(hosts, client, before: fromA)

        // A revocation sent to B is refused by A and C at once.
        let revoked = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "\(client.id):\(client.secret)",
                                                       "-d", "token=\(fromA)", hosts[1].url + "/api/v1/oauth/revoke"])
        #expect(revoked == "200")
        for host in [hosts[0], hosts[2]] {
            #expect(PluginTestSupport.eventually(timeout: .seconds(2)) { (try? metricsStatus(host.url, fromA)) == "401" },
                    "host \(host.port) still accepts a token revoked on another host")
        }

        // A client disabled with the CLI is refused on all three: its tokens and its new token requests.
        let beforeDisable = try accessToken(hosts[2].url, client)
        _ = try cli(hosts[1], ["client", "disable", client.id])
        for host in hosts {
            #expect(PluginTestSupport.eventually(timeout: .seconds(2)) { (try? metricsStatus(host.url, beforeDisable)) == "401" },
                    "host \(host.port) still accepts a disabled client's token")
            #expect(try token(host.url, client).status == "401", "host \(host.port) issued a token to a disabled client")
        }

        // The database restarted under load: 503 with Retry-After while down, never 500 or a hang; back within seconds.
        let other = try JSONParser.parse(try cli(hosts[0], ["client", "add", "--name", "other", "--scope", "metrics", "--json"]))
        let second = try (id: #require(other["client_id"]?.stringValue), secret: #require(other["client_secret"]?.stringValue))
        _ = try accessToken(balanced, second)
        database.stop()
        for host in hosts {
            let start = ContinuousClock.now
            let headers = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-o", "/dev/null", "-D", "-", "-u", "wrong:NoSuchSecret-0000000000000000000000",
                                                           "-d", "grant_type=client_credentials", host.url + "/api/v1/oauth/token"])
            #expect(headers.hasPrefix("HTTP/1.1 503") && headers.lowercased().contains("retry-after:"), "host \(host.port): \(headers)")
            #expect(ContinuousClock.now - start < .seconds(2))
        }
        try database.start()
        for host in hosts {
            #expect(PluginTestSupport.eventually(timeout: .seconds(15)) { (try? token(host.url, second).status) == "200" },
                    "host \(host.port) did not recover after the database came back")
        }

        // One host killed: the others carry on behind the balancer.
        hosts[2].signal(SIGKILL)
        for _ in 0..<6 { #expect(try token(balanced, second).status == "200") }
    }

    /// A resource server holding only B's JWK Set verifies A's token; `gatehouse keys rotate` on A: its new key
    /// verifies on B and C, and at that resource server, within the propagation bound (Docs/deployment.md: the
    /// store's announcement, here NOTIFY, plus the one-second tick; a scheduled next key is published long before).
    private func checkRotation(_ hosts: [ServedGatehouse], _ client: (id: String, secret: String), before: String) throws {
        let python = try ClientLibraryTests.python(venv: "python-verifiers", requirements: "Tests/Verifiers/requirements.txt")
        let script = PluginTestSupport.packageRoot + "/Tests/Verifiers/verify_tokens.py"
        let jwksOfB = hosts[1].url + "/.well-known/jwks.json"
        let rotated = try cli(hosts[0], ["keys", "rotate"])
        #expect(rotated.contains("is now current"), "\(rotated)")
        var after = before
        #expect(PluginTestSupport.eventually(timeout: .seconds(4)) {
            after = (try? accessToken(hosts[0].url, client)) ?? before
            return kid(after) != kid(before)
        }, "A signs with its new key")
        let signed = ContinuousClock.now
        for host in hosts.dropFirst() {
            #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { (try? metricsStatus(host.url, after)) == "200" },
                    "host \(host.port) does not verify A's rotated key:\n\(host.log)")
            #expect(try metricsStatus(host.url, before) == "200", "host \(host.port) refuses A's retired key")
        }
        #expect(ContinuousClock.now - signed < .seconds(3), "propagation took \(ContinuousClock.now - signed)")
        let output = try runCommand(python, [script, "--jwks-uri", jwksOfB, Self.issuer, before, after], mergeErrors: true)
        for line in ["pyjwt 1: ok", "authlib 1: ok", "pyjwt 2: ok", "authlib 2: ok", "pyjwt tampered: refused"] {
            #expect(output.contains(line), "a resource server with B's JWK Set: \(line)\n\(output)")
        }
    }
}
