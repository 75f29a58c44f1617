/// What goes into and comes out of a `ConnectionStateMachine`, and the limits it enforces.
extension ConnectionStateMachine {
    enum Event {
        case received(ArraySlice<UInt8>)
        /// The peer shut down its sending side (read returned 0).
        case inputEnded
        /// `send` took this many bytes of `unsentOutput`.
        case sent(Int)
        /// `send` took nothing: wait for the socket to become writable.
        case sendWouldBlock
        case writable
        case responded(HTTPResponse, date: String)
        /// The server is stopping: finish what is in flight, then close.
        case drain
        /// A fatal socket error, or the peer reset the connection.
        case failed
        /// The periodic timeout sweep.
        case tick(date: String)
    }

    enum Action {
        /// Hand the request to the responder and report its answer with `responded`.
        case dispatch(HTTPRequest, RequestContext)
        /// Send `unsentOutput` (one `send`), then report `sent` or `sendWouldBlock`.
        case send
        /// Ask epoll to watch exactly these.
        case watch(read: Bool, write: Bool)
        /// A response was queued: tell the observer (access log, metrics).
        case completed(HTTPRequest?, HTTPResponse, RequestContext)
        /// Everything is sent: `shutdown(SHUT_WR)`, so the client sees the end before the socket closes.
        case shutdownWrite
        case close
    }

    struct Limits: Sendable {
        var headerTimeout: Duration
        var idleTimeout: Duration
        var writeTimeout: Duration
        /// How long a closing connection waits for the peer's FIN after its last response.
        var linger: Duration
        var maxOutputBytes: Int
        var maxInputBytes: Int

        init(_ http: HTTPLimits) {
            headerTimeout = http.headerTimeout
            idleTimeout = http.idleTimeout
            writeTimeout = http.writeTimeout
            linger = min(.seconds(2), http.idleTimeout)
            maxOutputBytes = http.maxOutputBytes
            // One whole request (head and body) may be buffered behind the one with the handler.
            maxInputBytes = http.maxHeaderBytes + http.maxBodyBytes
        }
    }
}
