import Glibc
import JSON
import Synchronization

/// Where log records go: each call gets one complete JSON line, newline included.
///
/// Implementation requirements: `write` is called from the event loops and the plugins' reader threads, so
/// it must return quickly whatever the output does (buffer, and drop rather than block).
public protocol LogSink: Sendable {
    func write(line: [UInt8])
    /// Lines lost because the output did not keep up (`gatehouse_log_lines_dropped_total`).
    var droppedLines: UInt64 { get }
}

extension LogSink {
    public var droppedLines: UInt64 { 0 }
}

/// The production sink: the host's stderr, through one bounded buffer and writer thread for the process
/// (stderr is one per process), so a stalled log reader never holds up a request.
public struct StandardErrorLogSink: LogSink {
    static let buffer: BufferedLogSink = {
        let buffer = BufferedLogSink(fd: STDERR_FILENO)
        // Lines still buffered when the process exits (the "stopped" record, a start failure) are written
        // first, unless the output is stuck: then exit anyway after a bounded wait.
        atexit { StandardErrorLogSink.buffer.flush(timeout: .seconds(2)) }
        return buffer
    }()

    public init() {}
    public func write(line: [UInt8]) { Self.buffer.write(line: line) }
    public var droppedLines: UInt64 { Self.buffer.droppedLines }
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
        records.compactMap { try? JSONParser.parse($0).objectValue?.dictionary }
    }
}
