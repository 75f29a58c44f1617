import Dispatch
import Foundation
import Glibc
import JSON
import Synchronization

/// A log sink that never blocks its callers: lines go into a bounded buffer that one writer thread
/// (`gatehouse-log`) drains to a file descriptor.
///
/// Log lines are written from the event loops and the plugins' reader threads. Writing them there directly
/// meant that a log reader that stopped reading (a stopped `journalctl`, a full pipe, a hung disk) stopped
/// all HTTP serving. Here a caller only copies its line into memory under a lock. When the buffer is full
/// the line is dropped and counted (`droppedLines`, exported as `gatehouse_log_lines_dropped_total`); once
/// the output takes writes again, the writer first writes one record saying how many lines were lost.
///
/// Batching is also what makes logging cheap: the writer writes everything buffered in one `write(2)`,
/// instead of one system call per line on the thread that serves requests.
public final class BufferedLogSink: LogSink {
    /// The most bytes buffered before lines are dropped (lines are whole or dropped, never cut).
    public let capacity: Int
    private let fd: Int32
    private let wake = DispatchSemaphore(value: 0)

    private struct State {
        var pending: [UInt8] = []
        /// Lines dropped since the last report; written as a record once the output recovers.
        var unreported: UInt64 = 0
        var droppedTotal: UInt64 = 0
        var writerWaiting = false
        /// The writer holds a batch it has not finished writing.
        var writing = false
    }
    private let state = Mutex(State())

    public init(fd: Int32, capacity: Int = 4 << 20) {
        self.fd = fd
        self.capacity = capacity
        let thread = Foundation.Thread { [self] in
            ThreadName.set("gatehouse-log")
            drain()
        }
        thread.start()
    }

    public func write(line: [UInt8]) {
        let wakeWriter = state.withLock { state -> Bool in
            guard state.pending.count + line.count <= capacity else {
                state.unreported += 1
                state.droppedTotal += 1
                return false
            }
            state.pending.append(contentsOf: line)
            defer { state.writerWaiting = false }
            return state.writerWaiting
        }
        if wakeWriter { wake.signal() }
    }

    public var droppedLines: UInt64 { state.withLock { $0.droppedTotal } }

    /// Waits until everything buffered so far (and the report of lines dropped) is written, or `timeout`
    /// passes (the output may be stuck).
    /// Returns whether the buffer drained.
    @discardableResult
    public func flush(timeout: Duration) -> Bool {
        let deadline = MonotonicTime.now() + timeout
        while state.withLock({ !$0.pending.isEmpty || $0.writing || $0.unreported > 0 }) {
            guard MonotonicTime.now() < deadline else { return false }
            usleep(1000)
        }
        return true
    }

    private func drain() {
        var batch: [UInt8] = []
        while true {
            let dropped = state.withLock { state -> UInt64? in
                guard !state.pending.isEmpty || state.unreported > 0 else {
                    state.writerWaiting = true
                    return nil
                }
                swap(&batch, &state.pending)
                state.writing = true
                defer { state.unreported = 0 }
                return state.unreported
            }
            guard let dropped else {
                wake.wait()
                continue
            }
            if dropped > 0 { batch = Self.droppedRecord(dropped) + batch }
            // A failed write (the descriptor is gone) loses the batch: there is nowhere else to put it.
            _ = batch.withUnsafeBytes { FileDescriptorWriter.writeAll(fd: fd, $0) }
            let written = batch.count
            batch.removeAll(keepingCapacity: written <= 256 << 10)
            state.withLock { $0.writing = false }
            // Lines keep coming under load: let a millisecond's worth gather, so the writer makes about a
            // thousand system calls a second at most instead of one per line.
            if written < 64 << 10 { usleep(1000) }
        }
    }

    private static func droppedRecord(_ count: UInt64) -> [UInt8] {
        let record: JSONValue = ["ts": .string(Logger.timestamp()), "level": "warning",
                                 "msg": "log lines dropped: the log output did not keep up",
                                 "log.dropped_lines": .int(Int64(clamping: count))]
        return JSONWriter.bytes(record) + [UInt8(ascii: "\n")]
    }
}
