import Foundation
import Glibc
import PluginProtocol
@testable import Host

/// Gatehouse started as a user starts it: the `gatehouse serve` binary, on a free port, with its own data
/// directory; clients made with `gatehouse client add`. For end-to-end tests with real clients.
final class ServedGatehouse {
    let directory: TemporaryDirectory
    let port: UInt16
    private var process: Process?
    /// The host's process id (the launcher's, when one wraps it). Not `pgrep -f …:PORT`: port 4452 also matches
    /// a host on 44527, one of the many a full test run has at once.
    var pid: Int32? { process?.processIdentifier }
    private let logPath: String

    private let configPath: String?
    private let stderrPath: String?
    /// The issuer the host runs with; hosts sharing a store share one.
    private let issuer: String?
    private let launcher: [String]

    /// - Parameter config: the JSON of a config file to serve with, if any.
    /// - Parameter stderrPath: where the host's stderr goes (a FIFO, say) instead of `log`'s file.
    /// - Parameter launcher: a command that runs the host (it is passed the binary and its arguments and must
    ///   exec them), e.g. `unshare` to give it a private mount namespace.
    init(directory: TemporaryDirectory = TemporaryDirectory(), port: UInt16? = nil, config: String? = nil,
         stderrPath: String? = nil, issuer: String? = nil, launcher: [String] = []) throws
    {
        self.issuer = issuer
        self.launcher = launcher
        self.directory = directory
        self.port = try port ?? Self.freePort()
        self.stderrPath = stderrPath
        logPath = directory.path + "/gatehouse.log"
        if let config {
            configPath = directory.path + "/gatehouse.json"
            try config.write(toFile: configPath!, atomically: true, encoding: .utf8)
        } else {
            configPath = nil
        }
        try start()
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func start() throws {
        let process = Process()
        let binary = PluginTestSupport.executable("gatehouse")
        process.executableURL = URL(fileURLWithPath: launcher.first ?? binary)
        process.arguments = (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [binary])
            + ["serve", "--listen", "127.0.0.1:\(port)", "--data", directory.path + "/data"] + (configPath.map { ["--config", $0] } ?? [])
        process.environment = ProcessInfo.processInfo.environment.merging(["GATEHOUSE_ISSUER": issuer ?? "http://127.0.0.1:\(port)"]) { $1 }
        if let stderrPath {
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        } else {
            if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            handle.seekToEndOfFile()
            process.standardError = handle
        }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        guard PluginTestSupport.eventually(timeout: .seconds(10), { (try? self.get("/api/v1/status/ready").status) == 200 }) else {
            throw TestFailure("gatehouse did not become ready:\n\(log)")
        }
    }

    /// Sends `signal` to the served process (SIGHUP to reload).
    func signal(_ signal: Int32) {
        if let process { kill(process.processIdentifier, signal) }
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var exitStatus: Int32? { process.flatMap { $0.isRunning ? nil : $0.terminationStatus } }

    /// Replaces the config file the host was started with (for a reload).
    func rewriteConfig(_ config: String) throws {
        guard let configPath else { throw TestFailure("started without a config file") }
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        self.process = nil
    }

    deinit { stop() }

    /// `gatehouse client add … --json`; returns (client_id, client_secret).
    func addClient(name: String, scopes: String = "metrics", extra: [String] = []) throws -> (id: String, secret: String) {
        let output = try cli(["client", "add", "--name", name, "--scope", scopes, "--json"] + extra)
        let json = try JSONParser.parse(output)
        guard let id = json["client_id"]?.stringValue, let secret = json["client_secret"]?.stringValue else {
            throw TestFailure("client add printed \(output)")
        }
        return (id, secret)
    }

    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        try runCommand(PluginTestSupport.executable("gatehouse"), arguments + ["--data", directory.path + "/data"])
    }

    func get(_ path: String, headers: [(String, String)] = []) throws -> ParsedResponse {
        let client = try RawHTTPClient(port: port)
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        client.send(text + "\r\n")
        return client.readResponses(1).first ?? ParsedResponse(status: 0, headers: [:], body: "")
    }

    /// The value of one sample in Gatehouse's own metrics, read with a fresh token of `client`.
    func metric(_ sample: String, as client: (id: String, secret: String)) throws -> Double? {
        let token = try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials",
                                                     url + "/api/v1/oauth/token"])
        guard let access = try JSONParser.parse(token)["access_token"]?.stringValue else { return nil }
        let body = try get("/api/v1/metrics", headers: [("Authorization", "Bearer \(access)")]).body
        return body.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func freePort() throws -> UInt16 {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        close(listener.fd)
        return listener.port
    }
}
