import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// `/api/v1/status/ready` says ready only when tokens can be issued: a store that answers everything but
/// authentication, or a damaged database, must not pass for healthy.
@Suite struct ReadinessTests {
    @Test func aStoreThatStopsAuthenticatingIsRestartedAndNotReady() async throws {
        let directory = TemporaryDirectory()
        let trigger = directory.path + "/stall-authenticate"
        let host = try TestGatehouse(directory: directory) { config in
            config.store.command = PluginTestSupport.executable("TestPlugin")
            config.store.arguments = ["--role", "store", "--stall-authenticate-when", trigger]
            config.store.config = .object([:])
            // Longer than the revocation sync's interval (1 s), whose answers keep the connection looking alive.
            config.store.callTimeout = .seconds(3)
        }
        defer { host.stop() }
        #expect(try host.request("GET", "/api/v1/status/ready").status == 200)
        #expect(try host.tokenRequest(id: "prom", secret: StoreFixtures.secret).status == 401)
        // From now on `store.authenticate` goes unanswered, while `store.revocations` (every second) still is.
        #expect(FileManager.default.createFile(atPath: trigger, contents: nil))
        #expect(try host.tokenRequest(id: "prom", secret: StoreFixtures.secret).status == 503)
        let notReady = PluginTestSupport.eventually(timeout: .seconds(10)) {
            (try? host.request("GET", "/api/v1/status/ready").status) == 503
        }
        #expect(notReady, "ready stayed 200 while every token failed")
        // Readiness can turn 503 a moment before the probe's failure is logged and the restart begins (a loaded
        // machine showed it): wait for both, they must come.
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) { host.sink.records.contains { $0.contains("health probe failed") } })
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) {
            host.gatehouse.store.health.restarts > 0 || host.sink.records.contains { $0.contains("plugin down; restarting") }
        })
        // The store answers again: the next start passes its probe and the host is ready again.
        try FileManager.default.removeItem(atPath: trigger)
        let ready = PluginTestSupport.eventually(timeout: .seconds(20)) {
            (try? host.request("GET", "/api/v1/status/ready").status) == 200
        }
        #expect(ready)
    }

    /// `plugins.store.health_probe_ms`/`health_probe_timeout_ms` set how soon a store that stopped
    /// authenticating is found out: with 200/300 ms, well under the ~4 s of the default 2 s/2 s.
    @Test func aShorterProbeIntervalFindsAStalledStoreSooner() async throws {
        let directory = TemporaryDirectory()
        let trigger = directory.path + "/stall-authenticate"
        let host = try TestGatehouse(directory: directory) { config in
            config.store.command = PluginTestSupport.executable("TestPlugin")
            config.store.arguments = ["--role", "store", "--stall-authenticate-when", trigger]
            config.store.config = .object([:])
            config.store.callTimeout = .seconds(3)
            config.store.healthProbe?.interval = .milliseconds(200)
            config.store.healthProbe?.timeout = .milliseconds(300)
        }
        defer { host.stop() }
        #expect(try host.request("GET", "/api/v1/status/ready").status == 200)
        #expect(FileManager.default.createFile(atPath: trigger, contents: nil))
        let started = ContinuousClock.now
        let notReady = PluginTestSupport.eventually(timeout: .seconds(10)) {
            (try? host.request("GET", "/api/v1/status/ready").status) == 503
        }
        let took = ContinuousClock.now - started
        #expect(notReady)
        #expect(took < .milliseconds(1_800), "not ready after \(took), the default probe's bound")
    }

    /// A store whose database goes away answers `unavailable`: that is a store doing its job, so it is
    /// reported not ready without being restarted (restarts would spend its crash budget during the outage
    /// and leave it in cooldown after the database is back), and it is ready again with the first probe that
    /// passes.
    @Test func aStoreAnsweringUnavailableIsNotReadyButNotRestarted() async throws {
        let directory = TemporaryDirectory()
        let trigger = directory.path + "/database-down"
        let host = try TestGatehouse(directory: directory) { config in
            config.store.command = PluginTestSupport.executable("TestPlugin")
            config.store.arguments = ["--role", "store", "--unavailable-when", trigger]
            config.store.config = .object([:])
        }
        defer { host.stop() }
        #expect(try host.request("GET", "/api/v1/status/ready").status == 200)
        let pid = host.gatehouse.store.health.processes.first?.pid
        #expect(FileManager.default.createFile(atPath: trigger, contents: nil))
        #expect(try host.tokenRequest(id: "prom", secret: StoreFixtures.secret).status == 503)
        let notReady = PluginTestSupport.eventually(timeout: .seconds(10)) {
            (try? host.request("GET", "/api/v1/status/ready").status) == 503
        }
        #expect(notReady, "ready stayed 200 while the store answered unavailable")
        // Several probe intervals: still the same process, never restarted.
        try await Task.sleep(for: .seconds(5))
        #expect(host.gatehouse.store.health.restarts == 0)
        #expect(!host.sink.records.contains { $0.contains("plugin down; restarting") })
        try FileManager.default.removeItem(atPath: trigger)
        let ready = PluginTestSupport.eventually(timeout: .seconds(10)) {
            (try? host.request("GET", "/api/v1/status/ready").status) == 200
        }
        #expect(ready)
        #expect(host.gatehouse.store.health.processes.first?.pid == pid)
        #expect(try host.tokenRequest(id: "prom", secret: StoreFixtures.secret).status == 401)
        #expect(host.sink.records.contains { $0.contains("plugin healthy again") })
    }

    @Test func anSQLiteFileWithAZeroedPageRefusesToStart() async throws {
        let directory = TemporaryDirectory()
        let host = try TestGatehouse(directory: directory)
        for index in 0..<200 { try await host.addClient("client-\(index)") }
        host.stop()
        let path = directory.path + "/data/gatehouse.sqlite3"
        // Move everything from the WAL into the file, then zero page 2 (the root of the clients table): the
        // kind of damage a torn write or a bad block leaves.
        _ = try runCommand("/usr/bin/python3", ["-c", "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')", path])
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_size > 8 * 4096, "the clients are not in the main file")
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        let zeros = [UInt8](repeating: 0, count: 4096)
        #expect(pwrite(fd, zeros, zeros.count, 1 * 4096) == zeros.count)
        close(fd)
        do {
            try host.restart()
            Issue.record("started on a damaged database; ready: \(try host.request("GET", "/api/v1/status/ready").status)")
            host.stop()
        } catch {
            let message = "\(error)"
            #expect(message.contains("quick_check") && message.contains("restore it from a backup"), "\(message)")
        }
    }
}
