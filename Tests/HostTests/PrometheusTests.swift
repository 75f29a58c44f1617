import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// The real Prometheus (Debian package `prometheus`) scraping Gatehouse through its `oauth2` config.
@Suite(.serialized) struct PrometheusTests {
    /// A Prometheus server with one scrape job against Gatehouse, polled through its own HTTP API.
    final class PrometheusServer {
        let directory = TemporaryDirectory()
        let port: UInt16
        let secretFile: String
        private var process = Process()

        init(gatehouse: ServedGatehouse, clientID: String, secret: String, interval: String = "1s") throws {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
                throw TestFailure("prometheus not found: install the Debian package 'prometheus' (.ci/run does)")
            }
            port = try ServedGatehouse.freePort()
            secretFile = directory.path + "/gatehouse-secret"
            try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
            chmod(secretFile, 0o600)
            let config = """
                global:
                  scrape_interval: \(interval)
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: gatehouse
                    metrics_path: /api/v1/metrics
                    static_configs:
                      - targets: ["127.0.0.1:\(gatehouse.port)"]
                    oauth2:
                      client_id: \(clientID)
                      client_secret_file: \(secretFile)
                      token_url: \(gatehouse.url)/api/v1/oauth/token
                      scopes: [metrics]
                """
            try config.write(toFile: directory.path + "/prometheus.yml", atomically: true, encoding: .utf8)
            try start()
        }

        private func start() throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
            process.arguments = ["--config.file=\(directory.path)/prometheus.yml", "--storage.tsdb.path=\(directory.path)/data",
                                 "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        private func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
        }

        /// Prometheus's own config reload (SIGHUP, as `systemctl reload prometheus` sends).
        func reload() { kill(process.processIdentifier, SIGHUP) }

        func restart() throws {
            stop()
            try start()
        }

        deinit { stop() }

        /// The gatehouse target as Prometheus sees it: health ("up"/"down"/"unknown") and last error.
        func target() -> (health: String, error: String) {
            guard let text = try? runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/api/v1/targets"]),
                let json = try? JSONParser.parse(text), let target = json["data"]?["activeTargets"]?.arrayValue?.first
            else { return ("unknown", "") }
            return (target["health"]?.stringValue ?? "unknown", target["lastError"]?.stringValue ?? "")
        }

        /// Waits until the target's health is `health`; returns the last error seen.
        func waitFor(_ health: String, timeout: Duration = .seconds(20)) -> (reached: Bool, error: String) {
            var last = (health: "unknown", error: "")
            let reached = PluginTestSupport.eventually(timeout: timeout) {
                last = target()
                return last.health == health
            }
            return (reached, last.error)
        }
    }

    @Test func prometheusScrapesWithItsOAuth2Config() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let prometheus = try PrometheusServer(gatehouse: gatehouse, clientID: client.id, secret: client.secret)
        let up = prometheus.waitFor("up")
        #expect(up.reached, "target not up: \(up.error)\n\(gatehouse.log.suffix(2000))")
        // Gatehouse's own metrics show the token Prometheus got and its scrapes.
        let issued = try gatehouse.metric("gatehouse_tokens_issued_total{client_id=\"\(client.id)\"}", as: client) ?? 0
        #expect(issued >= 2, "one token for Prometheus, one for this check")
        #expect(gatehouse.log.contains(#""audit":"token.issued""#))
        #expect(gatehouse.log.contains("Go-http-client") == false, "the access log keeps no user agents or headers")
    }

    @Test func aWrongSecretLeavesTheTargetDownAndIsVisible() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let prometheus = try PrometheusServer(gatehouse: gatehouse, clientID: client.id, secret: "wrong-" + client.secret)
        let down = prometheus.waitFor("down")
        #expect(down.reached)
        #expect(down.error.contains("oauth2") && down.error.contains("invalid_client"), "\(down.error)")
        let refused = try gatehouse.metric(#"gatehouse_token_requests_refused_total{reason="wrong_secret",client_id="\#(client.id)"}"#, as: client)
        #expect((refused ?? 0) >= 1)
        #expect(gatehouse.log.contains(#""oauth.reason":"wrong_secret""#))
    }

    @Test func disablingTheClientStopsTheNextScrape() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let prometheus = try PrometheusServer(gatehouse: gatehouse, clientID: client.id, secret: client.secret)
        #expect(prometheus.waitFor("up").reached)
        try gatehouse.cli(["client", "disable", client.id])
        let down = prometheus.waitFor("down", timeout: .seconds(10))
        #expect(down.reached)
        #expect(down.error.contains("401"), "\(down.error)")
    }

    @Test func aHostRestartDoesNotBreakScraping() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let prometheus = try PrometheusServer(gatehouse: gatehouse, clientID: client.id, secret: client.secret)
        #expect(prometheus.waitFor("up").reached)
        let before = try gatehouse.metric("gatehouse_tokens_issued_total{client_id=\"\(client.id)\"}", as: client) ?? 0
        gatehouse.stop()
        #expect(prometheus.waitFor("down", timeout: .seconds(10)).reached)
        try gatehouse.start()
        // Prometheus keeps its token (it does not re-fetch on 401): the restarted host must accept it.
        let up = prometheus.waitFor("up")
        #expect(up.reached, "\(up.error)")
        let after = try gatehouse.metric("gatehouse_tokens_issued_total{client_id=\"\(client.id)\"}", as: client) ?? 0
        // After the restart the counter restarted too: only this check's token, so Prometheus fetched none.
        #expect(after == 1, "Prometheus fetched a new token (before: \(before), after: \(after))")
    }
}
