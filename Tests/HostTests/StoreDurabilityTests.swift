import Foundation
import Glibc
import PluginProtocol
import StoreKit
import Synchronization
import Testing
@testable import Host

/// What each bundled store promises beyond the conformance suite: durability, permissions, clear errors
/// for broken storage, and file-store's read-only and reload behaviour.
@Suite struct StoreDurabilityTests {
    typealias Fixtures = StoreFixtures
    private let sqlite = StoreUnderTest.all[0]
    private let file = StoreUnderTest.all[1]

    @Test func killNineDuringCreatesLosesNothingAcknowledged() async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        var acknowledged: [String] = []
        let pid = try #require(pool.health.processes.first?.pid)
        for index in 0..<5000 {
            do {
                let id = "k\(index)"
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client(id), secret: Fixtures.secret))
                acknowledged.append(id)
                // Once the stream is flowing, kill the store from another thread while creates keep coming.
                if acknowledged.count == 50 { DispatchQueue.global().async { kill(pid, SIGKILL) } }
            } catch {
                break  // The kill landed: everything acknowledged before it must be there.
            }
        }
        pool.shutdown()
        let saved = acknowledged
        #expect(saved.count >= 50 && saved.count < 5000, "the kill should land mid-stream (\(saved.count) acknowledged)")
        let reopened = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        defer { reopened.shutdown() }
        for id in saved {
            #expect(try await reopened.call(ClientStore.get, ClientIDParams(clientID: id)).client != nil, "lost \(id)")
        }
    }

    @Test func databaseFilesAreOwnerOnly() async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path + "/nested"))
        _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("p"), secret: Fixtures.secret))
        for suffix in ["", "-wal", "-shm"] {
            var info = stat()
            #expect(stat(directory.path + "/nested/clients.sqlite3" + suffix, &info) == 0)
            #expect(info.st_mode & 0o077 == 0, "clients.sqlite3\(suffix) is readable by others")
        }
        var info = stat()
        stat(directory.path + "/nested", &info)
        #expect(info.st_mode & 0o077 == 0)
        pool.shutdown()
        let filePool = try PluginTestSupport.startPool(file.spec(in: directory.path))
        _ = try await filePool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("p"), secret: Fixtures.secret))
        filePool.shutdown()
        stat(directory.path + "/clients.json", &info)
        #expect(info.st_mode & 0o077 == 0)
    }

    @Test func storesRefuseFilesOthersCanRead() async throws {
        let directory = TemporaryDirectory()
        let first = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        _ = try await first.call(ClientStore.create, CreateClientParams(client: Fixtures.client("p"), secret: Fixtures.secret))
        first.shutdown()
        chmod(directory.path + "/clients.sqlite3", 0o644)
        let pool = PluginPool(spec: sqlite.spec(in: directory.path), logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a world-readable database was accepted")
            return
        }
        #expect(error.description.contains("readable by other users; run: chmod 600"))
        // A read-only file-store (a ConfigMap is mounted 0644) only warns.
        let files = TemporaryDirectory()
        let writable = try PluginTestSupport.startPool(file.spec(in: files.path))
        writable.shutdown()
        chmod(files.path + "/clients.json", 0o644)
        let sink = MemoryLogSink()
        let readOnly = try PluginTestSupport.startPool(file.spec(in: files.path, extraConfig: ["readOnly": true]), sink: sink)
        readOnly.shutdown()
        #expect(sink.records.contains { $0.contains("readable by other users") })
    }

    @Test func aCorruptDatabaseIsAClearStartError() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/clients.sqlite3"
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        let pool = PluginPool(spec: sqlite.spec(in: directory.path), logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a corrupt database was accepted")
            return
        }
        #expect(error.description.contains("file is not a database"), "\(error)")
        // Refused configuration is permanent: no crash loop of restarts.
        #expect(pool.health.restarts == 0)
    }

    @Test func readOnlyFileStoreServesButRefusesWrites() async throws {
        let directory = TemporaryDirectory()
        let writable = try PluginTestSupport.startPool(file.spec(in: directory.path))
        _ = try await writable.call(ClientStore.create, CreateClientParams(client: Fixtures.client("ro"), secret: Fixtures.secret))
        writable.shutdown()
        let pool = try PluginTestSupport.startPool(file.spec(in: directory.path, extraConfig: ["readOnly": true]))
        defer { pool.shutdown() }
        #expect(try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "ro", secret: Fixtures.secret)).authenticated)
        do {
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("new"), secret: Fixtures.secret))
            Issue.record("a read-only store accepted a write")
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == .readOnly)
        }
    }

    @Test func aBrokenEditKeepsTheLastGoodStateAndAFixedOneReloads() async throws {
        let directory = TemporaryDirectory()
        let sink = MemoryLogSink()
        let notified = ResultCounter()
        let pool = try PluginTestSupport.startPool(file.spec(in: directory.path), sink: sink) { method, _ in
            if method == "invalidate" { notified.increment() }
        }
        defer { pool.shutdown() }
        _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("first"), secret: Fixtures.secret))
        let path = directory.path + "/clients.json"
        let good = try String(contentsOfFile: path, encoding: .utf8)
        // A broken edit: the store keeps serving what it had and says where the file is broken.
        try (good + "\n{ oops").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(PluginTestSupport.eventually { sink.records.contains { $0.contains("keeping the last good version") && $0.contains("line") } })
        #expect(try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "first", secret: Fixtures.secret)).authenticated)
        // Writes refuse to overwrite a file someone broke.
        do {
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("second"), secret: Fixtures.secret))
            Issue.record("overwrote a broken file")
        } catch let PluginCallError.remote(_, error) {
            #expect(error.code == .storageFailure)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("{ oops"))
        // A fixed edit (here: the client renamed by hand) is picked up and the host is told.
        let before = notified.value
        try good.replacingOccurrences(of: "Client first", with: "Edited by hand").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(PluginTestSupport.eventually { notified.value > before })
        #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "first")).client?.name == "Edited by hand")
    }

    @Test func anExternalChangeToTheDatabaseIsAnnounced() async throws {
        let directory = TemporaryDirectory()
        let notified = ResultCounter()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path)) { method, _ in
            if method == "invalidate" { notified.increment() }
        }
        defer { pool.shutdown() }
        _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("x"), secret: Fixtures.secret))
        usleep(300_000)
        let before = notified.value
        // Another process (here the sqlite3 shell, as an operator or a second host would) changes a client.
        let other = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        var change = UpdateClientParams(clientID: "x")
        change.enabled = false
        _ = try await other.call(ClientStore.update, change)
        other.shutdown()
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { notified.value > before })
    }

    /// Last-use batches (written every 10 s) are this store's own writes, not changes: announcing them emptied
    /// the host's caches every 10 s under steady traffic. A disable by another process amid them is announced.
    @Test func lastUseWritesAreNotAnnouncedButAChangeAmongThemIs() async throws {
        let directory = TemporaryDirectory()
        let notified = ResultCounter()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path)) { method, _ in
            if method == "invalidate" { notified.increment() }
        }
        defer { pool.shutdown() }
        for id in ["busy", "idle"] {
            _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client(id), secret: Fixtures.secret))
        }
        try await Task.sleep(for: .milliseconds(300))
        let before = notified.value
        let path = directory.path + "/" + sqlite.fileName
        func lastUse() throws -> String {
            try runCommand("/usr/bin/sqlite3", [path, "SELECT coalesce(last_used_at, '') FROM clients WHERE id = 'busy'"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try lastUse() == "")
        // Tokens at a steady rate for longer than one batch interval: at least one batch is written.
        let started = ContinuousClock.now
        var authenticated = 0
        while ContinuousClock.now - started < .seconds(LastUseBatch.defaultInterval + 2) {
            if try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "busy", secret: Fixtures.secret)).authenticated {
                authenticated += 1
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        // A steady stream, not a rate: in a full parallel run the 50 ms sleeps can take seconds each.
        #expect(authenticated > 0)
        #expect(try lastUse() != "", "the batch of last-use times was written")
        #expect(notified.value == before, "last-use writes announced \(notified.value - before) times")

        // Another process (as `gatehouse client disable` does) changes a client amid the same stream.
        let other = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        var change = UpdateClientParams(clientID: "idle")
        change.enabled = false
        _ = try await other.call(ClientStore.update, change)
        other.shutdown()
        let changed = ContinuousClock.now
        while ContinuousClock.now - changed < .seconds(2), notified.value == before {
            _ = try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: "busy", secret: Fixtures.secret))
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(notified.value > before, "the disable was announced")
    }

    /// A change made through this process is the host's own: it already knows of a revocation or a key it
    /// published, and a client change is announced for that client before the answer (StoreService). The
    /// watcher announcing it again as "all clients changed" emptied every cache of the host for nothing, at each
    /// revocation and key publication. A change by another process amid them is still announced.
    @Test func thisProcesssOwnWritesAreNotAnnouncedAsAllClientsChanged() async throws {
        let directory = TemporaryDirectory()
        let everything = ResultCounter()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path)) { method, params in
            if method == "invalidate", (try? InvalidateParams(json: params))?.clientIDs.isEmpty == true { everything.increment() }
        }
        defer { pool.shutdown() }
        _ = try await pool.call(ClientStore.create, CreateClientParams(client: Fixtures.client("x"), secret: Fixtures.secret))
        try await Task.sleep(for: .milliseconds(500))
        let before = everything.value
        let now = Int64(time(nil))
        for index in 0..<3 {
            _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-\(index)", clientID: "x", expiresAt: now + 600))
            _ = try await pool.call(HostSigningKeys.publish, PublishSigningKeysParams(keys: [StoreConformanceTests.hostKey("k\(index)", notAfter: now + 600)]))
            var change = UpdateClientParams(clientID: "x")
            change.name = "renamed \(index)"
            _ = try await pool.call(ClientStore.update, change)
            try await Task.sleep(for: .milliseconds(150))
        }
        try await Task.sleep(for: .milliseconds(500))  // five polls of the watcher
        #expect(everything.value == before, "this process's own writes announced \(everything.value - before) times")

        // Another process's change, committed between two of this process's own, is announced.
        _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-a", clientID: "x", expiresAt: now + 600))
        let other = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        var disable = UpdateClientParams(clientID: "x")
        disable.enabled = false
        _ = try await other.call(ClientStore.update, disable)
        other.shutdown()
        _ = try await pool.call(ClientStore.revoke, RevokeParams(tokenID: "jti-b", clientID: "x", expiresAt: now + 600))
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { everything.value > before }, "the other process's disable was announced")
    }

    /// Every clients column but `last_used_at` moves the change counter: a column added later without the
    /// trigger would be a change no host hears of.
    @Test func theChangeTriggerCoversEveryClientColumnButLastUse() async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(sqlite.spec(in: directory.path))
        pool.shutdown()
        let path = directory.path + "/" + sqlite.fileName
        let columns = try runCommand("/usr/bin/sqlite3", [path, "SELECT name FROM pragma_table_info('clients')"])
            .split(separator: "\n").map(String.init)
        #expect(columns.contains("last_used_at") && columns.count > 10)
        let trigger = try runCommand("/usr/bin/sqlite3", [path, "SELECT sql FROM sqlite_master WHERE name = 'clients_updated'"])
        let listed = trigger.components(separatedBy: "UPDATE OF").last?.components(separatedBy: " ON clients").first ?? ""
        let names = Set(listed.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init))
        #expect(names == Set(columns).subtracting(["last_used_at"]), "\(trigger)")
    }
}
