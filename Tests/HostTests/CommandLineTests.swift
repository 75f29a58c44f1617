import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// The `gatehouse` executable as an operator uses it: serve, client management, policy check, exit codes.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private func gatehouse(_ arguments: [String], directory: TemporaryDirectory, stdin: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PluginTestSupport.executable("gatehouse"))
        process.arguments = arguments + ["--data", directory.path + "/data"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                   stderr: String(decoding: stderrData, as: UTF8.self))
    }

    @Test func clientLifecycleFromTheCommandLine() throws {
        let directory = TemporaryDirectory()
        let added = try gatehouse(["client", "add", "--name", "Prometheus Scraper", "--scope", "metrics", "--json"], directory: directory)
        #expect(added.status == 0, "\(added.stderr)")
        let json = try JSONParser.parse(added.stdout)
        let id = try #require(json["client_id"]?.stringValue)
        let secret = try #require(json["client_secret"]?.stringValue)
        #expect(id.hasPrefix("prometheus-scraper-") && ClientID.isValid(id))
        #expect(secret.count == 43)
        #expect(json["scopes"] == ["metrics"] && json["default_scopes"] == ["metrics"])
        #expect(added.stderr.isEmpty, "--json keeps stderr quiet: \(added.stderr)")

        let human = try gatehouse(["client", "add", "--name", "other", "--id", "other-1", "--scope", "metrics reports", "--ttl", "300"],
                                  directory: directory)
        #expect(human.status == 0)
        #expect(human.stdout.contains("client_id:     other-1"))
        #expect(human.stderr.contains("cannot be shown again"))

        let list = try gatehouse(["client", "list"], directory: directory)
        #expect(list.stdout.contains(id) && list.stdout.contains("other-1") && list.stdout.hasPrefix("CLIENT ID"))
        let listJSON = try JSONParser.parse(try gatehouse(["client", "list", "--json"], directory: directory).stdout)
        #expect(listJSON.arrayValue?.count == 2)
        #expect(!JSONWriter.string(listJSON).contains("secret\":\""), "list must not print secrets")

        let show = try gatehouse(["client", "show", "other-1"], directory: directory)
        #expect(show.stdout.contains("token ttl:   300 s"))
        #expect(try gatehouse(["client", "update", "other-1", "--scope", "metrics", "--default-scope", "metrics"], directory: directory).status == 0)
        #expect(try gatehouse(["client", "disable", "other-1"], directory: directory).stdout.contains("disabled"))
        let rotated = try gatehouse(["client", "rotate-secret", id, "--grace", "60", "--json"], directory: directory)
        #expect(try JSONParser.parse(rotated.stdout)["secrets"]?.arrayValue?.count == 2)
        #expect(try gatehouse(["client", "remove", "other-1"], directory: directory).status == 0)
        let gone = try gatehouse(["client", "show", "other-1"], directory: directory)
        #expect(gone.status == 1 && gone.stderr.contains("no client 'other-1'"))
    }

    @Test func operatorChosenSecretsMustBeStrong() throws {
        let directory = TemporaryDirectory()
        let weak = try gatehouse(["client", "add", "--name", "w", "--scope", "metrics", "--secret-stdin"], directory: directory, stdin: "hunter2\n")
        #expect(weak.status == 1 && weak.stderr.contains("at least 32 characters"))
        let strong = try gatehouse(["client", "add", "--name", "s", "--scope", "metrics", "--secret-stdin", "--json"], directory: directory,
                                   stdin: StoreFixtures.secret + "\n")
        #expect(strong.status == 0)
        // The operator's own secret is not printed back (scrollback, CI logs), in JSON or in text.
        #expect(try JSONParser.parse(strong.stdout)["client_secret"] == nil)
        let text = try gatehouse(["client", "add", "--name", "t", "--scope", "metrics", "--secret-stdin"], directory: directory,
                                 stdin: StoreFixtures.otherSecret + "\n")
        #expect(text.status == 0 && !text.stdout.contains(StoreFixtures.otherSecret) && !text.stderr.contains(StoreFixtures.otherSecret))
    }

    @Test func usageAndConfigErrorsHaveTheirExitCodes() throws {
        let directory = TemporaryDirectory()
        #expect(try gatehouse(["client", "add"], directory: directory).status == 2)
        #expect(try gatehouse(["client", "add", "--name", "x", "--bogus"], directory: directory).stderr.contains("unknown option --bogus"))
        #expect(try gatehouse(["nonsense"], directory: directory).status == 2)
        #expect(try gatehouse(["client", "add", "--name", "x", "--ttl", "0"], directory: directory).status == 2)
        try "{ \"listen\": 5 }".write(toFile: directory.path + "/bad.json", atomically: true, encoding: .utf8)
        let badConfig = try gatehouse(["serve", "--config", directory.path + "/bad.json"], directory: directory)
        #expect(badConfig.status == 3 && badConfig.stderr.contains("field 'listen' must be string"))
        try #"{"plugins": {"store": {"command": "no-such-store"}}}"#.write(toFile: directory.path + "/missing.json", atomically: true, encoding: .utf8)
        let missing = try gatehouse(["client", "list", "--config", directory.path + "/missing.json"], directory: directory)
        #expect(missing.status == 3 && missing.stderr.contains("'no-such-store' not found"))
    }

    @Test func policyCheckExplainsAndExitsByDecision() throws {
        let directory = TemporaryDirectory()
        let id = try JSONParser.parse(try gatehouse(["client", "add", "--name", "p", "--scope", "metrics", "--json"], directory: directory).stdout)["client_id"]!.stringValue!
        let allow = try gatehouse(["policy", "check", "--client", id, "--request", "GET /api/v1/metrics"], directory: directory)
        #expect(allow.status == 0 && allow.stdout.hasPrefix("ALLOW") && allow.stdout.contains("scope 'metrics' allows GET"))
        let deny = try gatehouse(["policy", "check", "--scope", "reports", "--request", "GET /api/v1/metrics"], directory: directory)
        #expect(deny.status == 1 && deny.stdout.hasPrefix("DENY") && deny.stdout.contains("needs:  metrics"))
    }

    @Test func serveStopsGracefullyOnSIGTERM() throws {
        let directory = TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PluginTestSupport.executable("gatehouse"))
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data", directory.path + "/data"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        var log = ""
        let deadline = MonotonicTime.now() + .seconds(10)
        while !log.contains("gatehouse ready") && MonotonicTime.now() < deadline {
            log += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
        }
        #expect(log.contains("gatehouse ready"))
        let pids = log.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
            .compactMap { $0["msg"] == "plugin ready" ? $0["plugin.pid"]?.intValue : nil }
        #expect(pids.count == 2)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        log += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(log.contains("\"stopped\""))
        for pid in pids { #expect(!PluginTestSupport.isAlive(Int32(pid)), "plugin \(pid) outlived the host") }
    }

    @Test func aTakenPortIsAClearError() throws {
        let directory = TemporaryDirectory()
        // A second Gatehouse on a running one's port must fail, not share the port.
        let running = try TestGatehouse()
        defer { running.stop() }
        let second = try gatehouse(["serve", "--listen", "127.0.0.1:\(running.port)"], directory: directory)
        #expect(second.status == 3 && second.stderr.contains("cannot listen on 127.0.0.1:\(running.port)"), "\(second.stderr)")
        let foreign = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(foreign, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(foreign, 1)
        defer { close(foreign) }
        let port = Socket.boundPort(foreign)
        let taken = try gatehouse(["serve", "--listen", "127.0.0.1:\(port)"], directory: directory)
        #expect(taken.status == 3 && taken.stderr.contains("cannot listen on 127.0.0.1:\(port)"), "\(taken.stderr)")
    }
}
