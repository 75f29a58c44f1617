import Glibc
import PluginProtocol
import Synchronization

/// Where log records go: each call gets one complete JSON line, newline included.
public protocol LogSink: Sendable {
    func write(line: [UInt8])
}

/// The production sink: the host's stderr, one line per `write` so records from many threads never mix.
public struct StandardErrorLogSink: LogSink {
    private let writer = FileDescriptorWriter(fd: STDERR_FILENO)
    public init() {}
    public func write(line: [UInt8]) { writer.writeAll(line) }
}

/// Keeps records in memory, for tests that assert on what was logged.
public final class MemoryLogSink: LogSink {
    private let lines = Mutex<[String]>([])
    public init() {}
    public func write(line: [UInt8]) {
        let text = String(decoding: line.last == UInt8(ascii: "\n") ? line.dropLast() : line[...], as: UTF8.self)
        lines.withLock { $0.append(text) }
    }
    public var records: [String] { lines.withLock { $0 } }
    /// The records parsed back into JSON objects.
    public var objects: [[String: JSONValue]] {
        records.compactMap { try? JSONParser.parse($0).objectValue }
    }
}
