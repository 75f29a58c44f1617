import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Three `gatehouse serve` hosts on one PostgreSQL behind a real nginx upstream (round robin), as
/// Docs/deployment.md "Several hosts" sets them up, with the interim shared signing-key file.
@Suite struct MultiHostTests {
    static let issuer = "http://gatehouse.test"

    /// Starts the hosts one after another; the first one's signing keys are copied into the others' data
    /// directories before they start, so a token signed by any host verifies on every host.
    private func hosts(url: String) throws -> [ServedGatehouse] {
        let config = """
            {"plugins": {"store": {"command": "gatehouse-postgres-store", "config": {"url": "\(url)"}}}}
            """
        let first = try ServedGatehouse(config: config, issuer: Self.issuer)
        var hosts = [first]
        for _ in 0..<2 {
            let directory = TemporaryDirectory()
            let data = directory.path + "/data"
            mkdir(data, 0o700)
            for file in try FileManager.default.contentsOfDirectory(atPath: first.directory.path + "/data") where file.hasPrefix("signing") {
                try FileManager.default.copyItem(atPath: first.directory.path + "/data/" + file, toPath: data + "/" + file)
                chmod(data + "/" + file, 0o600)
            }
            hosts.append(try ServedGatehouse(directory: directory, config: config, issuer: Self.issuer))
        }
        return hosts
    }

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

        // A token from host A works on B and C, and through the balancer.
        let fromA = try accessToken(hosts[0].url, client)
        for host in hosts { #expect(try metricsStatus(host.url, fromA) == "200", "host \(host.port)") }
        for _ in 0..<3 { #expect(try metricsStatus(balanced, fromA) == "200") }

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
}
