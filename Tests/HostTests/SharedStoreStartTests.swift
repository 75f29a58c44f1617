import Foundation
import Glibc
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// Several hosts sharing one sqlite-store file (Docs/stores.md) start at the same moment, and Gatehouse refuses a
/// data directory others can write to.
@Suite struct SharedStoreStartTests {
    /// Starts `count` sqlite-store processes, then sends each its `initialize` as close together as possible, and
    /// returns each one's first answer line.
    private func initializeAtOnce(_ count: Int, path: String) throws -> [String] {
        let line = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersions":[1],"config":{"path":"\#(path)"}}}"# + "\n"
        var processes: [(Process, Pipe, Pipe)] = []
        for _ in 0..<count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PluginTestSupport.executable("gatehouse-sqlite-store"))
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append((process, input, output))
        }
        usleep(100_000)  // Every process is up and waiting on stdin: the initializes race for real.
        for (_, input, _) in processes { input.fileHandleForWriting.write(Data(line.utf8)) }
        var answers: [String] = []
        for (process, input, output) in processes {
            var bytes: [UInt8] = []
            while !bytes.contains(UInt8(ascii: "\n")), let chunk = try output.fileHandleForReading.read(upToCount: 1), !chunk.isEmpty {
                bytes += chunk
            }
            answers.append(String(decoding: bytes, as: UTF8.self))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        return answers
    }

    /// "table clients already exists": each process read version 0 and ran the first migration.
    @Test func threeStoresStartingAtOnceOnAFreshFileAllStart() throws {
        for round in 0..<12 {
            let directory = TemporaryDirectory()
            let answers = try initializeAtOnce(3, path: directory.path + "/shared.sqlite3")
            for answer in answers {
                #expect(answer.contains(#""result""#) && !answer.contains(#""error""#), "round \(round): \(answer)")
            }
        }
    }

    @Test func threeHostsStartingAtOnceOnOneFreshStoreFile() throws {
        for _ in 0..<3 {
            let directory = TemporaryDirectory()
            let root = directory.path
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 3) { index in
                var config = TestGatehouse.config(TemporaryDirectory()) { _ in }
                config.dataDirectory = root + "/data\(index)"
                config.store.config = ["path": .string(root + "/shared/gatehouse.sqlite3")]
                do {
                    try Gatehouse.start(config: config, logger: Logger(sink: MemoryLogSink(), minimumLevel: .error)).shutdown(grace: .seconds(1))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            withExtendedLifetime(directory) {}
        }
    }

    @Test func aDataDirectoryOthersCanWriteToIsRefused() throws {
        let directory = TemporaryDirectory()
        let data = directory.path + "/data"
        #expect(mkdir(data, 0o700) == 0 && chmod(data, 0o777) == 0)
        #expect(throws: Gatehouse.StartError.self) { _ = try TestGatehouse(directory: directory) }
        do {
            _ = try TestGatehouse(directory: directory)
        } catch {
            #expect("\(error)".contains("writable by other users") && "\(error)".contains("chmod 700 \(data)"), "\(error)")
        }
        chmod(data, 0o770)
        #expect(throws: Gatehouse.StartError.self) { _ = try TestGatehouse(directory: directory) }
        // Readable by others only: a warning, as before (the files inside are 0600).
        chmod(data, 0o755)
        let host = try TestGatehouse(directory: directory)
        host.stop()
        #expect(host.sink.records.contains { $0.contains("data directory is accessible to other users") })
    }
}
