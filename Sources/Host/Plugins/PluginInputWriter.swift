import Dispatch
import Glibc
import Synchronization

/// The plugin's stdin, for `PluginConnection`: writes go straight to the non-blocking pipe; what the pipe
/// cannot take waits in an outbox of at most `maxOutbox` bytes that a background flush drains. Its lock is
/// its own, so a write syscall never holds up the reader thread completing calls.
final class PluginInputWriter: Sendable {
    private struct State {
        var outbox: [UInt8] = []
        var flushing = false
        var inputClosed = false
    }
    private let fd: Int32
    private let maxOutbox: Int
    private let state = Mutex(State())

    init(fd: Int32, maxOutbox: Int) {
        self.fd = fd
        self.maxOutbox = maxOutbox
    }

    /// Writes what the pipe takes now; queues the rest. False if the outbox would exceed its bound.
    func enqueue(_ line: [UInt8]) -> Bool {
        state.withLock { writer in
            guard !writer.inputClosed else { return true }  // Closed: the call fails at close or by timeout.
            if !writer.outbox.isEmpty {
                guard writer.outbox.count + line.count <= maxOutbox else { return false }
                writer.outbox.append(contentsOf: line)
                return true
            }
            let written = line.withUnsafeBytes { raw in writeSome(raw) }
            if written < line.count {
                writer.outbox.append(contentsOf: line[written...])
                if !writer.flushing {
                    writer.flushing = true
                    DispatchQueue.global().async { [self] in flushOutbox() }
                }
            }
            return true
        }
    }

    /// Drops what waits and closes stdin, which tells a well-behaved plugin to exit.
    func close() {
        state.withLock { writer in
            writer.outbox = []
            guard !writer.inputClosed else { return }
            writer.inputClosed = true
            Glibc.close(fd)
        }
    }

    /// One non-blocking write; how many bytes went out (0 on EAGAIN or a dead pipe).
    private func writeSome(_ raw: UnsafeRawBufferPointer) -> Int {
        while true {
            let written = Glibc.write(fd, raw.baseAddress!, raw.count)
            if written >= 0 { return written }
            if errno == EINTR { continue }
            return 0  // EAGAIN: the outbox keeps it. EPIPE: the reader sees EOF and closes the connection.
        }
    }

    private func flushOutbox() {
        while true {
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&descriptor, 1, 100)
            let done = state.withLock { writer -> Bool in
                guard !writer.inputClosed else {
                    writer.flushing = false
                    return true
                }
                let written = writer.outbox.withUnsafeBytes { raw in writeSome(raw) }
                writer.outbox.removeFirst(written)
                if writer.outbox.isEmpty { writer.flushing = false }
                return writer.outbox.isEmpty
            }
            if done { return }
        }
    }
}
