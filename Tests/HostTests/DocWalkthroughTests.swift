import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Pages followed literally: the README's first steps and configuration.md's example, run from their own
/// blocks. Paths and ports are the only things a test changes (a test cannot own port 8080 or /var/lib).
@Suite struct DocWalkthroughTests {
    /// A directory that looks like a checkout after `swift build -c release`: `.build/release` holds the
    /// binaries under test.
    static func checkout() throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path + "/.build", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/.build/release", withDestinationPath: PluginTestSupport.buildDirectory)
        return directory
    }

    @Test func theReadmeFiveMinutesBlockRunsAsWritten() throws {
        let block = try DocPage.block("README.md", "sh", containing: "CLIENT_SECRET=")
        let lines = block.components(separatedBy: "\n")
        // The build line is what produced the binaries under test; everything after it runs unchanged.
        #expect(lines.first == "scripts/bootstrap && swift build -c release")
        let port = try ServedGatehouse.freePort()
        let script = "set -e\n" + lines.dropFirst().joined(separator: "\n").replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(port)")
        let checkout = try Self.checkout()
        let result = try shell(script, in: checkout.path, environment: ["GATEHOUSE_LISTEN": "127.0.0.1:\(port)"], timeout: .seconds(60))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("# TYPE gatehouse_"), "the metrics did not arrive:\n\(result.output)")
        #expect(FileManager.default.fileExists(atPath: checkout.path + "/gatehouse-data/gatehouse.sqlite3"))
    }

    /// configuration.md's example starts (no unknown key, no missing file) and keeps the signing keys and the
    /// database in the one data directory.
    @Test func theConfigurationExampleStartsWithEverythingInTheDataDirectory() throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        let etc = directory.path + "/etc"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        let policy = try DocPage.block("Docs/policy.md", "json", containing: "\"defaultRole\"")
        try policy.write(toFile: etc + "/policy.json", atomically: true, encoding: .utf8)
        let example = try DocPage.block("Docs/configuration.md", "json", containing: "\"plugins\"")
        let config = example.replacingOccurrences(of: "/var/lib/gatehouse", with: data).replacingOccurrences(of: "/etc/gatehouse", with: etc)
        let parsed = try JSONParser.parse(config)
        #expect(parsed["data_dir"]?.stringValue == data, "the example's data_dir is not the directory its store uses")
        let gatehouse = try ServedGatehouse(directory: directory, config: config)
        defer { gatehouse.stop() }
        for file in ["signing-keys.json", "gatehouse.sqlite3"] {
            #expect(FileManager.default.fileExists(atPath: data + "/" + file), "\(file) is not in data_dir")
        }
        let client = try gatehouse.addClient(name: "prometheus", extra: ["--config", gatehouse.directory.path + "/gatehouse.json"])
        let issued = try gatehouse.metric("gatehouse_tokens_issued_total{client_id=\"\(client.id)\"}", as: client)
        #expect(issued == 1, "the served store is not the one the CLI wrote to")
    }

    /// prometheus.md "Trying it locally": the two blocks, against a served Gatehouse, until the target is up.
    @Test func thePrometheusLocalWalkthroughGetsTheTargetUp() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw TestFailure("prometheus not found: install the Debian package 'prometheus' (scripts/bootstrap --test does)")
        }
        let checkout = try Self.checkout()
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let prometheusPort = try ServedGatehouse.freePort()
        func local(_ text: String) -> String {
            text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(gatehouse.port)")
                .replacingOccurrences(of: "127.0.0.1:9090", with: "127.0.0.1:\(prometheusPort)")
                .replacingOccurrences(of: "scrape_interval: 15s", with: "scrape_interval: 1s")
        }
        let start = local(try DocPage.block("Docs/prometheus.md", "sh", containing: "promtool check config"))
        let check = local(try DocPage.block("Docs/prometheus.md", "sh", containing: "activeTargets"))
        let script = """
            set -e
            \(start)
            set +e
            for attempt in $(seq 60); do
              sleep 1
              health=$(\(check))
              case "$health" in up*) echo "target: $health"; exit 0 ;; esac
            done
            echo "target never up: $health"; exit 1
            """
        let result = try shell(script, in: checkout.path, environment: ["GATEHOUSE_DATA_DIR": gatehouse.directory.path + "/data"],
                               timeout: .seconds(90))
        #expect(result.status == 0, "\(result.output)\n\(gatehouse.log.suffix(1500))")
        #expect(result.output.contains("SUCCESS"), "promtool check config did not pass: \(result.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: checkout.path + "/gatehouse-secret")[.posixPermissions] as? Int
        #expect(mode == 0o600, "the secret file is readable by others")
    }

    /// getting-started.md: the scripted client, the token and the policy check, in order, against a served
    /// Gatehouse; the policy check prints what the page shows (with this run's client id).
    @Test func theGettingStartedBlocksRunInOrder() throws {
        let checkout = try Self.checkout()
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let page = "Docs/getting-started.md"
        let check = try DocPage.block(page, "sh", containing: "policy check")
        let script = ["set -e", try DocPage.block(page, "sh", containing: "CLIENT_SECRET=$("),
                      try DocPage.block(page, "sh", containing: "ACCESS_TOKEN=$("), check, "echo \"client id: $CLIENT_ID\""]
            .joined(separator: "\n").replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(gatehouse.port)")
        let result = try shell(script, in: checkout.path, environment: ["GATEHOUSE_DATA_DIR": gatehouse.directory.path + "/data"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\"token_type\":\"Bearer\""), "\(result.output)")
        #expect(result.output.contains("# TYPE gatehouse_tokens_issued_total counter"), "\(result.output)")
        let id = result.output.components(separatedBy: "client id: ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        for line in check.components(separatedBy: "\n") where line.hasPrefix("# ") {
            let expected = String(line.dropFirst(2)).replacingOccurrences(of: "app-k3j9x2", with: id)
            #expect(result.output.contains(expected), "policy check did not print '\(expected)':\n\(result.output)")
        }
    }

    /// policy.md's example policy and the `policy check` session under it: each `$` command prints the lines the
    /// page shows under it.
    @Test func thePolicyCheckSessionPrintsWhatThePageShows() throws {
        let directory = TemporaryDirectory()
        try DocPage.block("Docs/policy.md", "json", containing: "reports:write").write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        try #"{"plugins": {"policy": {"config": {"policyFile": "policy.json"}}}}"#.write(toFile: directory.path + "/gatehouse.json", atomically: true, encoding: .utf8)
        let session = try DocPage.block("Docs/policy.md", "console", containing: "policy check")
        var commands: [(command: String, output: [String])] = []
        for line in session.components(separatedBy: "\n") {
            if line.hasPrefix("$ ") { commands.append((String(line.dropFirst(2)), [])) } else { commands[commands.count - 1].output.append(line) }
        }
        #expect(commands.count == 2)
        for (command, output) in commands {
            let run = try shell(command.replacingOccurrences(of: "gatehouse ", with: "'\(PluginTestSupport.executable("gatehouse"))' ", options: .anchored),
                                in: directory.path, environment: ["GATEHOUSE_DATA_DIR": directory.path + "/data"])
            #expect(run.output.trimmingCharacters(in: .newlines) == output.joined(separator: "\n"), "\(command):\n\(run.output)")
        }
    }

    /// prometheus.md's production `prometheus.yml` is valid Prometheus configuration.
    @Test func thePrometheusProductionConfigPassesPromtool() throws {
        let promtool = try #require(AlertRulesTests.promtool, "promtool not found (Debian package prometheus)")
        let directory = TemporaryDirectory()
        try DocPage.block("Docs/prometheus.md", "yaml", containing: "client_secret_file: /etc/prometheus/gatehouse-secret")
            .write(toFile: directory.path + "/prometheus.yml", atomically: true, encoding: .utf8)
        let check = try shell("'\(promtool)' check config prometheus.yml", in: directory.path)
        #expect(check.status == 0 && check.output.contains("SUCCESS"), "\(check.output)")
    }
}
