import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Disk full and read-only storage, on real (tiny tmpfs) file systems. Needs root, as CI has.
@Suite(.serialized) struct StorageFaultTests {
    /// A tmpfs of `kilobytes`, unmounted when released.
    final class TinyDisk {
        let path: String

        init(kilobytes: Int) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-disk-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let output = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path], mergeErrors: true)
            guard output.isEmpty else { throw TestFailure("cannot mount a tmpfs (these tests need root): \(output)") }
        }

        func remountReadOnly() throws {
            _ = try runCommand("/bin/mount", ["-o", "remount,ro", path], mergeErrors: true)
        }

        deinit {
            _ = try? runCommand("/bin/umount", ["-l", path])
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    private func fill(_ pool: PluginPool) async -> (created: [String], error: RPCError?) {
        var created: [String] = []
        for index in 0..<5000 {
            var client = StoreFixtures.client("disk-\(index)")
            client.name = String(repeating: "n", count: 190)
            do {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: client, secret: StoreFixtures.secret))
                created.append(client.id)
            } catch let PluginCallError.remote(_, error) {
                return (created, error)
            } catch {
                return (created, RPCError(.internalError, "\(error)"))
            }
        }
        return (created, nil)
    }

    @Test(arguments: [0, 1])
    func aFullDiskIsAClearErrorAndLosesNothing(storeIndex: Int) async throws {
        let store = StoreUnderTest.all[storeIndex]
        let disk = try TinyDisk(kilobytes: 320)
        let pool = try PluginTestSupport.startPool(store.spec(in: disk.path))
        defer { pool.shutdown() }
        let (created, error) = await fill(pool)
        let failure = try #require(error, "\(store): the disk never filled")
        #expect(failure.code == .storageFailure, "\(store): \(failure)")
        #expect(failure.message.lowercased().contains("full") || failure.message.contains("No space"), "\(store): \(failure.message)")
        #expect(created.count > 0)
        // Still serving, nothing half-written: every acknowledged client is there, the refused one is not.
        #expect(pool.health.restarts == 0)
        for id in created.suffix(20) {
            #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: id)).client != nil, "\(store) lost \(id)")
        }
        #expect(try await pool.call(ClientStore.get, ClientIDParams(clientID: "disk-\(created.count)")).client == nil)
        #expect(try await pool.call(ClientStore.authenticate, AuthenticateParams(clientID: created[0], secret: StoreFixtures.secret)).authenticated)
        if store.description == "file-store" {
            // The file on disk is still the last good one, whole and parseable.
            let text = try #require(FileManager.default.contents(atPath: disk.path + "/clients.json"))
            #expect((try? JSONParser.parse(Array(text)))?["clients"]?.arrayValue?.count == created.count)
        }
    }

    @Test func aReadOnlyDataDirectoryIsAClearStartError() throws {
        let disk = try TinyDisk(kilobytes: 64)
        try disk.remountReadOnly()
        do {
            _ = try TestGatehouse { config in
                config.dataDirectory = disk.path
                config.store.config = ["path": .string(disk.path + "/gatehouse.sqlite3")]
            }
            Issue.record("started on a read-only data directory")
        } catch {
            #expect("\(error)".contains("is not writable"), "\(error)")
        }
    }

    @Test func aDatabaseOnAReadOnlyDiskIsAClearStoreError() throws {
        let disk = try TinyDisk(kilobytes: 256)
        let first = try PluginTestSupport.startPool(StoreUnderTest.all[0].spec(in: disk.path))
        first.shutdown()
        try disk.remountReadOnly()
        let pool = PluginPool(spec: StoreUnderTest.all[0].spec(in: disk.path), logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a store on a read-only disk claimed to be ready")
            return
        }
        #expect(error.description.contains("read-only") || error.description.contains("Read-only"), "\(error)")
        #expect(pool.health.restarts == 0, "refused configuration must not crash-loop")
    }
}
