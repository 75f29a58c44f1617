import Foundation
import Glibc
@testable import JSON
@testable import PluginProtocol
import Testing
@testable import Host

/// A typo in a config key, at any level and inside each bundled plugin's `config`, stops the host with an
/// error naming the key; nothing falls back to a default silently.
@Suite struct StrictConfigTests {
    @Test(arguments: [
        (#"{"http": {"thread": 2}}"#, "unknown key 'http.thread' (did you mean 'http.threads'?)"),
        (#"{"token": {"default_lifetime": 60}}"#, "unknown key 'token.default_lifetime' (did you mean 'token.default_lifetime_seconds'?)"),
        (#"{"rate_limit": {"per_clent": {"burst": 1}}}"#, "unknown key 'rate_limit.per_clent' (did you mean 'rate_limit.per_client'?)"),
        (#"{"rate_limit": {"per_client": {"brust": 1}}}"#, "unknown key 'rate_limit.per_client.brust' (did you mean 'rate_limit.per_client.burst'?)"),
        (#"{"plugins": {"store": {"confg": {}}}}"#, "unknown key 'plugins.store.confg' (did you mean 'plugins.store.config'?)"),
        (#"{"plugins": {"cache": {}}}"#, "unknown key 'plugins.cache'"),
        (#"{"plugins": {"store": {"config": {"pth": "x.db"}}}}"#, "unknown key 'plugins.store.config.pth' (did you mean 'plugins.store.config.path'?)"),
        (#"{"plugins": {"store": {"command": "gatehouse-file-store", "config": {"changePollMs": 5}}}}"#, "unknown key 'plugins.store.config.changePollMs'"),
        (#"{"plugins": {"policy": {"config": {"policyfile": "p.json"}}}}"#, "unknown key 'plugins.policy.config.policyfile' (did you mean 'plugins.policy.config.policyFile'?)"),
        (#"{"log_levle": "debug"}"#, "unknown key 'log_levle' (did you mean 'log_level'?)"),
    ])
    func aMisspeltKeyStopsTheHost(config: String, message: String) throws {
        let directory = TemporaryDirectory()
        try GatehouseCLI.write(config, to: directory.path + "/gatehouse.json")
        let run = try GatehouseCLI.run(["serve", "--config", directory.path + "/gatehouse.json", "--listen", "127.0.0.1:0"], in: directory)
        #expect(run.status == 3, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    /// `plugins.store.health_probe_ms` and `health_probe_timeout_ms` within their bounds, and only where a probe runs.
    @Test(arguments: [
        (#"{"plugins": {"store": {"health_probe_ms": 0}}}"#, "'plugins.store.health_probe_ms' must be from 100 to 600000, got 0"),
        (#"{"plugins": {"store": {"health_probe_ms": 99}}}"#, "'plugins.store.health_probe_ms' must be from 100 to 600000, got 99"),
        (#"{"plugins": {"store": {"health_probe_ms": 86400000}}}"#, "must be from 100 to 600000"),
        (#"{"plugins": {"store": {"health_probe_ms": "2s"}}}"#, "plugins.store.health_probe_ms"),
        (#"{"plugins": {"store": {"health_probe_ms": 1.5}}}"#, "plugins.store.health_probe_ms"),
        (#"{"plugins": {"store": {"health_probe_timeout_ms": 60001}}}"#, "'plugins.store.health_probe_timeout_ms' must be from 100 to 60000"),
        (#"{"plugins": {"policy": {"health_probe_ms": 1000}}}"#, "'plugins.policy.health_probe_ms': only a store has a health probe"),
        (#"{"plugins": {"store": {"health_probe": 1000}}}"#, "(did you mean 'plugins.store.health_probe_ms'?)"),
    ])
    func healthProbeSettingsOutOfBoundsStopTheHost(config: String, message: String) throws {
        try aMisspeltKeyStopsTheHost(config: config, message: message)
    }

    @Test func healthProbeSettingsReachTheProbe() throws {
        let spec = try PluginSpec(name: "store", role: .store, json: try JSONParser.parse(#"{"health_probe_ms": 500, "health_probe_timeout_ms": 250}"#))
        #expect(spec.healthProbe?.interval == .milliseconds(500) && spec.healthProbe?.timeout == .milliseconds(250))
        let defaults = try PluginSpec(name: "store", role: .store, json: .object([:]))
        #expect(defaults.healthProbe?.interval == .seconds(2) && defaults.healthProbe?.timeout == .seconds(2))
    }

    @Test func aPluginEntryWithoutCommandTakesTheDefault() throws {
        let directory = TemporaryDirectory()
        try GatehouseCLI.write(#"{"plugins": {"store": {"config": {"changePollMs": 200}}, "policy": {"pool": 1}}}"#,
                               to: directory.path + "/gatehouse.json")
        let run = try GatehouseCLI.run(["client", "list", "--config", directory.path + "/gatehouse.json"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("No clients"))
    }

    @Test func fileErrorsNameThePathAndThePosition() throws {
        let directory = TemporaryDirectory()
        let missing = try GatehouseCLI.run(["client", "list", "--config", directory.path + "/nope.json"], in: directory)
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("cannot read config file \(directory.path)/nope.json: No such file or directory"), "\(missing.stderr)")
        try GatehouseCLI.write("{\n  \"listen\": \"127.0.0.1:0\",\n  \"audience\": oops\n}\n", to: directory.path + "/bad.json")
        let bad = try GatehouseCLI.run(["client", "list", "--config", directory.path + "/bad.json"], in: directory)
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("is not valid JSON") && bad.stderr.contains("at line 3, column 15"), "\(bad.stderr)")
    }

    /// The example at the top of configuration.md is a config the strict reader accepts as written.
    @Test func theDocumentedExampleLoads() throws {
        let page = try String(contentsOfFile: PluginTestSupport.packageRoot + "/Docs/configuration.md", encoding: .utf8)
        let start = try #require(page.range(of: "```json\n"))
        let end = try #require(page.range(of: "\n```", range: start.upperBound..<page.endIndex))
        let directory = TemporaryDirectory()
        try GatehouseCLI.write(String(page[start.upperBound..<end.lowerBound]), to: directory.path + "/example.json")
        #expect(throws: Never.self) { try HostConfig.load(path: directory.path + "/example.json", environment: [:]) }
    }

    @Test func positionsCountLinesAndCharacters() {
        let text = Array("{\n  \"é\": x\n}".utf8)
        let offset = text.firstIndex(of: UInt8(ascii: "x"))!
        #expect(HostConfig.position(of: offset, in: text) == (2, 8))
    }

    @Test func suggestionsAreForTyposOnly() {
        #expect(ConfigReader.nearest("thread", in: ["threads", "max_connections"]) == "threads")
        #expect(ConfigReader.nearest("colour", in: ["threads", "max_connections"]) == nil)
        #expect(ConfigReader.nearest("policyfile", in: ["policyFile", "reloadMs"]) == "policyFile")
    }

    @Test func thePythonExamplesRefuseUnknownKeysToo() async throws {
        let store = PluginSpec(name: "store", role: .store, command: "/usr/bin/env")
        var spec = store
        spec.arguments = ["python3", PluginTestSupport.packageRoot + "/Docs/examples/python-store/store.py"]
        let directory = TemporaryDirectory()
        spec.config = ["path": .string(directory.path + "/clients.db"), "pth": "x"]
        spec.restart.maxCrashes = 1
        let pool = PluginPool(spec: spec, logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("python-store accepted an unknown config key")
            return
        }
        #expect(error.description.contains("plugins.store.config.pth"), "\(error)")
    }
}
