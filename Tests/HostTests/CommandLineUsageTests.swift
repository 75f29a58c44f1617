import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// The CLI helps: `--help` everywhere, strict flags, `policy check` that gives the server's answer, errors
/// that say what is wrong, and JSON output in one style.
@Suite struct CommandLineUsageTests {
    private func gatehouse(_ arguments: [String], _ directory: TemporaryDirectory, stdin: String? = nil) throws -> GatehouseCLI.Run {
        try GatehouseCLI.run(arguments, in: directory, stdin: stdin)
    }

    @Test(arguments: [
        (["serve", "--help"], "usage: gatehouse serve"),
        (["client", "--help"], "rotate-secret ID"),
        (["client", "add", "--help"], "usage: gatehouse client add"),
        (["client", "rotate-secret", "-h"], "--grace SECONDS"),
        (["policy", "check", "--help"], "--from ADDRESS"),
        (["keys", "--help"], "usage: gatehouse keys"),
        (["--help"], "usage: gatehouse [--config PATH] [--data DIR] <command>"),
    ])
    func helpPrintsUsageAndExitsZero(arguments: [String], expected: String) throws {
        let run = try GatehouseCLI.run(arguments, in: TemporaryDirectory(), data: false)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(expected), "\(run.stdout)")
        #expect(run.stderr.isEmpty)
    }

    @Test func globalFlagsGoBeforeOrAfterTheCommand() throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/elsewhere"
        let added = try GatehouseCLI.run(["--data", data, "client", "add", "--name", "a", "--scope", "metrics", "--json"], in: directory, data: false)
        #expect(added.status == 0, "\(added.stderr)")
        let listed = try GatehouseCLI.run(["client", "--data", data, "list"], in: directory, data: false)
        #expect(listed.status == 0 && listed.stdout.contains("a-"), "\(listed.stderr)")
    }

    @Test func flagsAreStrict() throws {
        let directory = TemporaryDirectory()
        let twice = try gatehouse(["client", "add", "--name", "a", "--name", "b", "--scope", "metrics"], directory)
        #expect(twice.status == 2 && twice.stderr.contains("--name given more than once"), "\(twice.stderr)")
        let empty = try gatehouse(["client", "add", "--name", "", "--scope", "metrics"], directory)
        #expect(empty.status == 2 && empty.stderr.contains("--name must not be empty"))
        let noScope = try gatehouse(["client", "add", "--name", "a"], directory)
        #expect(noScope.status == 2 && noScope.stderr.contains("can never get a token"))
        #expect(try gatehouse(["client", "list"], directory).stdout.contains("No clients"), "nothing was created")
    }

    @Test func policyCheckGivesTheServersAnswer() throws {
        let directory = TemporaryDirectory()
        let id = try #require(try JSONParser.parse(try gatehouse(["client", "add", "--name", "p", "--scope", "metrics", "--json"], directory).stdout)["client_id"]?.stringValue)
        let allow = try gatehouse(["policy", "check", "--client", id, "--request", "GET /api/v1/metrics"], directory)
        #expect(allow.status == 0 && allow.stdout.contains("policy: built-in (no --config given"), "\(allow.stdout)")
        #expect(try gatehouse(["client", "disable", id], directory).status == 0)
        let disabled = try gatehouse(["policy", "check", "--client", id, "--request", "GET /api/v1/metrics"], directory)
        #expect(disabled.status == 1 && disabled.stdout.hasPrefix("DENY") && disabled.stdout.contains("client disabled"), "\(disabled.stdout)")

        // A policy that decides by source network: --from gives the address the server would see.
        let script = PluginTestSupport.packageRoot + "/Docs/examples/python-policy/network_policy.py"
        try GatehouseCLI.write(#"{"plugins": {"policy": {"command": "/usr/bin/env", "args": ["python3", ""# + script + #""], "#
            + #""config": {"rules": [{"methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"], "networks": ["10.0.0.0/8"]}]}}}}"#,
            to: directory.path + "/network.json")
        let network = ["policy", "check", "--scope", "metrics", "--request", "GET /api/v1/metrics", "--config", directory.path + "/network.json"]
        let inside = try gatehouse(network + ["--from", "10.1.2.3"], directory)
        #expect(inside.status == 0 && inside.stdout.hasPrefix("ALLOW") && !inside.stdout.contains("built-in"), "\(inside.stdout)\(inside.stderr)")
        let outside = try gatehouse(network + ["--from", "192.0.2.1", "--json"], directory)
        #expect(outside.status == 1)
        #expect(try JSONParser.parse(outside.stdout)["allowed"] == false)
        #expect(try gatehouse(network + ["--from", "nowhere"], directory).status == 2)
    }

    @Test func jsonOutputIsSnakeCaseWithNulls() throws {
        let directory = TemporaryDirectory()
        let added = try gatehouse(["client", "add", "--name", "j", "--id", "j-1", "--scope", "metrics", "--json"], directory)
        let client = try JSONParser.parse(added.stdout)
        #expect(client["role"] == .null, "no role is null, not \"\"")
        let secret = try #require(client["secrets"]?.arrayValue?.first)
        #expect(secret["created_at"]?.intValue != nil && secret["createdAt"] == nil && secret["expires_at"] == .null)
        let text = try gatehouse(["client", "show", "j-1", "--json"], directory).stdout
        #expect(!text.contains("At\""), "camelCase key in \(text)")
    }

    @Test func pluginCommandErrorsSayWhatIsWrong() throws {
        let directory = TemporaryDirectory()
        let plugin = directory.path + "/my-store"
        try GatehouseCLI.write("#!/bin/sh\n", to: plugin)
        chmod(plugin, 0o644)
        func listWith(_ command: String) throws -> String {
            try GatehouseCLI.write(#"{"plugins": {"store": {"command": ""# + command + #""}}}"#, to: directory.path + "/c.json")
            let run = try gatehouse(["client", "list", "--config", directory.path + "/c.json"], directory)
            #expect(run.status == 3)
            #expect(!run.stderr.contains("{\""), "a supervisor JSON line before the error: \(run.stderr)")
            return run.stderr
        }
        let notExecutable = try listWith(plugin)
        #expect(notExecutable.contains("'\(plugin)' is not executable") && !notExecutable.contains("not found"), "\(notExecutable)")
        let absent = try listWith(directory.path + "/absent")
        #expect(absent.contains("not found") && !absent.contains("PATH") && !absent.contains("beside"), "\(absent)")
        let thirdParty = try listWith("acme-store")
        #expect(thirdParty.contains("not found beside the gatehouse executable or in PATH") && !thirdParty.contains("build every product"))
        #expect(PluginSupervisor.article("example") == "an" && PluginSupervisor.article("store") == "a")
    }

    @Test func aBrokenStoreGivesOneClearError() throws {
        let directory = TemporaryDirectory()
        try GatehouseCLI.write(#"{"plugins": {"store": {"config": {"path": "/nonexistent-dir/x/clients.sqlite3"}}}}"#, to: directory.path + "/c.json")
        let run = try gatehouse(["client", "list", "--config", directory.path + "/c.json"], directory)
        #expect(run.status == 3)
        #expect(run.stderr.hasPrefix("gatehouse: plugin 'store' did not start"), "\(run.stderr)")
        #expect(!run.stderr.contains("{\"") && !run.stderr.contains("giving up"), "\(run.stderr)")
    }

    @Test func serveWarnsAboutPlainHTTPOffLoopbackAndBracketsIPv6() throws {
        // A machine without IPv6 on loopback (some CI containers) checks the IPv4 case only.
        let hasIPv6 = (try? Socket.listen(host: "::1", port: 0)).map { close($0.fd) } != nil
        for (listen, warns, shown) in [("0.0.0.0:0", true, "0.0.0.0:"), ("[::1]:0", false, "[::1]:")] where hasIPv6 || !listen.hasPrefix("[") {
            let directory = TemporaryDirectory()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PluginTestSupport.executable("gatehouse"))
            process.arguments = ["serve", "--listen", listen, "--data", directory.path + "/data"]
            let err = Pipe()
            process.standardError = err
            try process.run()
            var log = ""
            let deadline = MonotonicTime.now() + .seconds(10)
            while !log.contains("gatehouse ready") && !log.contains("cannot start") && MonotonicTime.now() < deadline {
                log += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            }
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            log += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(log.contains(#""http.listen":"\#(shown)"#), "\(log)")
            #expect(log.contains("plain HTTP on a non-loopback address") == warns, "\(log)")
        }
    }

    @Test func auditRouteIsThePath() throws {
        let host = try ServedGatehouse()
        defer { host.stop() }
        let client = try host.addClient(name: "r")
        _ = try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):wrong-secret-wrong-secret-wrong-secret", "-d", "grant_type=client_credentials",
                                             host.url + "/api/v1/oauth/token"])
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { host.log.contains("token.refused") })
        let line = try #require(host.log.split(separator: "\n").first { $0.contains("token.refused") })
        #expect(try JSONParser.parse(String(line))["http.route"] == "/api/v1/oauth/token", "\(line)")
    }
}
