import Glibc
import SystemShims

/// The state of one client connection. Owned by one event loop and touched only on its thread.
final class HTTPConnection {
    enum Phase {
        /// Parsing; no request is with a handler.
        case reading
        /// A request is with the handler; later pipelined bytes wait in `input`.
        case awaitingResponse
        /// Flushing a last response, then closing.
        case closing
    }

    let fd: Int32
    let remoteAddress: String
    /// Distinguishes this connection from a later one that reuses the same descriptor number.
    let serial: UInt64
    var parser: HTTPRequestParser
    var phase = Phase.reading
    var input: [UInt8] = []
    var inputStart = 0
    var output: [UInt8] = []
    var outputStart = 0
    /// When the first byte of the request being read arrived; the header timeout runs from here.
    var requestStartedAt: MonotonicTime?
    var lastActivity: MonotonicTime
    /// What epoll is asked to watch, so it is changed only when it must be.
    var watchingWrite = false
    var watchingRead = true
    /// The peer shut down its sending side.
    var peerClosed = false
    /// The request with the handler, for the version and keep-alive of its response.
    var current: HTTPRequest?
    var currentContext: RequestContext?
    /// True while `process` runs, so a response delivered synchronously does not re-enter it.
    var processing = false

    init(fd: Int32, remoteAddress: String, serial: UInt64, limits: HTTPLimits, now: MonotonicTime) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.serial = serial
        self.parser = HTTPRequestParser(limits: limits)
        self.lastActivity = now
    }

    var bufferedInput: Int { input.count - inputStart }
    var hasPendingOutput: Bool { outputStart < output.count }

    /// Drops consumed input so the buffer does not grow across a long keep-alive connection.
    func compactInput() {
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputStart = 0
        } else if inputStart > 32 * 1024 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }

    /// Writes what the socket takes. Returns false on a fatal socket error.
    func flush() -> Bool {
        while outputStart < output.count {
            let written = output.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + outputStart, raw.count - outputStart, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return true }
                return false
            }
            outputStart += written
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        outputStart = 0
        return true
    }
}
