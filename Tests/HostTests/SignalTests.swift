import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// `gatehouse serve` and its signals as an operator (or systemd's `ExecReload=kill -HUP $MAINPID`) sends them:
/// SIGHUP reloads and never stops the host; SIGTERM drains and exits 0.
@Suite struct SignalTests {
    private func policy(metricsScope: String) -> String {
        #"{"roles":{"default":{"scopes":["metrics","other"]}},"defaultRole":"default","cacheTtlMs":300000,"#
            + #""resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":[""# + metricsScope + #""]}]}"#
    }

    private func config(_ directory: TemporaryDirectory, logLevel: String) -> String {
        // reloadMs of an hour: only the SIGHUP can make the policy plugin re-read its file in this test.
        #"{"log_level":""# + logLevel + #"","plugins":{"policy":{"config":{"policyFile":""# + directory.path
            + #"/policy.json","reloadMs":3600000}}}}"#
    }

    private func token(_ host: ServedGatehouse, _ client: (id: String, secret: String)) throws -> String {
        let body = try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials",
                                                    host.url + "/api/v1/oauth/token"])
        return try #require(try JSONParser.parse(body)["access_token"]?.stringValue)
    }

    @Test func sighupKeepsServingAndAppliesLogLevelAndPolicy() throws {
        let directory = TemporaryDirectory()
        try policy(metricsScope: "metrics").write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        let host = try ServedGatehouse(directory: directory, config: config(directory, logLevel: "error"))
        defer { host.stop() }
        let client = try host.addClient(name: "prom", scopes: "metrics other")
        let access = try token(host, client)
        #expect(try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(access)")]).status == 200)
        #expect(!host.log.contains(#""msg":"request""#), "log_level error must hide the access log")

        try policy(metricsScope: "other-only").write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        try host.rewriteConfig(config(directory, logLevel: "info"))
        host.signal(SIGHUP)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { host.log.contains(#""msg":"reloaded""#) }, "\(host.log)")
        #expect(host.isRunning, "SIGHUP must not stop the host")
        #expect(host.log.contains("plugin reloaded"))
        // The new policy applies at once, whatever the cached decision's five minutes say.
        #expect(try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(access)")]).status == 403)
        #expect(PluginTestSupport.eventually(timeout: .seconds(2)) { host.log.contains(#""msg":"request""#) },
                "log_level info after the reload must show the access log")
    }

    @Test func aBadReloadKeepsServingOnTheOldConfig() throws {
        let directory = TemporaryDirectory()
        try policy(metricsScope: "metrics").write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        let host = try ServedGatehouse(directory: directory, config: config(directory, logLevel: "info"))
        defer { host.stop() }
        let client = try host.addClient(name: "prom", scopes: "metrics")
        let access = try token(host, client)

        // A config that does not parse changes nothing.
        try host.rewriteConfig(#"{"log_level": "info", "http": {"thread": 2}}"#)
        host.signal(SIGHUP)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { host.log.contains("reload failed") }, "\(host.log)")
        #expect(host.log.contains("unknown key 'http.thread'"))
        #expect(host.isRunning)
        #expect(try host.get("/api/v1/status/ready").status == 200)

        // A broken policy file: the policy plugin refuses the reload and keeps the last good policy.
        try host.rewriteConfig(config(directory, logLevel: "info"))
        try "{ not json".write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        host.signal(SIGHUP)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { host.log.contains("plugin reload failed") }, "\(host.log)")
        #expect(host.isRunning)
        #expect(try host.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(access)")]).status == 200)
        #expect(!(try token(host, client)).isEmpty)
    }

    @Test func changesThatNeedARestartAreNamed() throws {
        let directory = TemporaryDirectory()
        let host = try ServedGatehouse(directory: directory, config: #"{"audience": "gatehouse"}"#)
        defer { host.stop() }
        try host.rewriteConfig(#"{"audience": "elsewhere", "rate_limit": {"per_client": {"burst": 3}}}"#)
        host.signal(SIGHUP)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { host.log.contains("some changes need a restart") }, "\(host.log)")
        let line = try #require(host.log.split(separator: "\n").last { $0.contains("some changes need a restart") })
        let record = try JSONParser.parse(String(line))
        #expect(record["reload.restart_required"] == ["audience"])
        #expect(record["reload.applied"]?.arrayValue?.contains("rate_limit") == true)
        #expect(host.isRunning)
    }

    @Test func reloadedRateLimitsApplyToTheNextAttempt() {
        let open = FailureRateLimiter.Limits(burst: 100, refillPerSecond: 0)
        let limiter = FailureRateLimiter(perAddress: open, perClientAddress: .init(burst: 1, refillPerSecond: 0), perClient: open)
        let now = MonotonicTime.now()
        limiter.recordFailure(clientID: "c", address: "192.0.2.1", secret: "wrong", now: now)
        guard case .limited = limiter.check(clientID: "c", address: "192.0.2.1", now: now) else {
            Issue.record("one failure with burst 1 must limit")
            return
        }
        limiter.update(perAddress: open, perClientAddress: .init(burst: 0, refillPerSecond: 0), perClient: open)
        guard case .allowed = limiter.check(clientID: "c", address: "192.0.2.1", now: now) else {
            Issue.record("burst 0 after the reload turns the limit off")
            return
        }
    }

    @Test func sigtermDrainsAndStops() throws {
        let directory = TemporaryDirectory()
        let host = try ServedGatehouse(directory: directory)
        host.signal(SIGTERM)
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { !host.isRunning })
        #expect(host.log.contains(#""process.signal_name":"SIGTERM""#) && host.log.contains(#""msg":"stopped""#))
    }

    /// A drain waits for a request still arriving; Ctrl-C twice must not wait with it.
    @Test func aSecondSignalWhileDrainingExitsAtOnce() throws {
        let directory = TemporaryDirectory()
        let host = try ServedGatehouse(directory: directory)
        let slow = try RawHTTPClient(port: host.port)
        slow.send("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  // headers never finish
        host.signal(SIGTERM)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { host.log.contains("shutting down") })
        // The drain waits for the unfinished request (up to its grace); if a future server stops waiting for a
        // request that never finishes, there is no drain left to interrupt and nothing to check.
        guard host.isRunning else { return }
        host.signal(SIGTERM)
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { !host.isRunning })
        #expect(host.exitStatus == 1)
        #expect(host.log.contains("second signal while draining"))
    }
}
