/// One HTTP/1.1 connection as a pure value: events in (bytes read, bytes sent, a response, the clock), actions
/// out (dispatch a request, send, change what epoll watches, half-close, close). No sockets, threads or clocks:
/// `EventLoop` does the I/O and asks `nextAction` what to do until it answers nil; tests drive it directly.
///
/// ```
///  reading ──request──▶ awaitingResponse ──response, keep-alive──▶ reading
///     │ parse error, 408, FIN          │ response with close, drain, FIN with nothing left to answer
///     ▼                                ▼
///  closing: send the rest ──sent──▶ FIN; discard input until the peer's FIN or the linger ──▶ closed
/// ```
/// Memory is bounded per connection: no request is parsed while unsent output exceeds `maxOutputBytes`, nothing
/// is read while buffered input exceeds `maxInputBytes` or output is over its bound (the kernel's buffers then
/// push back on the client), and a closing connection reads only to discard, for at most `linger`.
struct ConnectionStateMachine {
    enum Phase: Sendable, Equatable {
        /// Parsing; no request is with a handler.
        case reading
        /// A request is with the handler; later pipelined bytes wait in the input buffer.
        case awaitingResponse
        /// Sending a last response, then half-closing and lingering.
        case closing
        case closed
    }

    let remoteAddress: String
    let limits: Limits
    private(set) var phase = Phase.reading
    private var parser: HTTPRequestParser
    private var input: [UInt8] = []
    private var inputStart = 0
    private var output: [UInt8] = []
    private var outputStart = 0
    private(set) var peerClosed = false
    private var draining = false
    private var mustClose = false
    /// True while the loop works through this connection's actions, so a response delivered synchronously from
    /// inside `dispatch` is picked up by that same loop instead of re-entering it.
    private(set) var isProcessing = false
    /// What epoll watches now.
    private(set) var watchingRead = true
    private(set) var watchingWrite = false
    /// The socket refused more; wait for writable.
    private var sendBlocked = false
    private var current: (request: HTTPRequest, context: RequestContext)?
    private var completion: (request: HTTPRequest?, response: HTTPResponse, context: RequestContext)?
    /// When the first byte of the request being read arrived; the header timeout runs from here.
    private var requestStartedAt: MonotonicTime?
    /// Last byte read or response queued, outside the closing phase; the idle timeout runs from here.
    private var lastActivity: MonotonicTime
    /// Since when output has waited without the socket taking any of it; the write timeout runs from here.
    private var sendStalledSince: MonotonicTime?
    /// Set when the FIN is sent: the connection closes then at the latest.
    private var lingerUntil: MonotonicTime?

    init(remoteAddress: String, limits: HTTPLimits, now: MonotonicTime) {
        self.remoteAddress = remoteAddress
        self.limits = Limits(limits)
        parser = HTTPRequestParser(limits: limits)
        lastActivity = now
    }

    var bufferedInput: Int { input.count - inputStart }
    var unsentOutputCount: Int { output.count - outputStart }

    /// The bytes the next `send` should take.
    func withUnsentOutput<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }
    }

    /// Whether the loop should read now: also what `watch(read:)` asks for.
    var wantsToRead: Bool {
        guard !peerClosed, !mustClose else { return false }
        switch phase {
        case .reading, .awaitingResponse:
            // Back-pressure: a client that does not read its answers, or floods requests, waits in the kernel.
            return bufferedInput < limits.maxInputBytes && unsentOutputCount < limits.maxOutputBytes
        case .closing:
            return lingerUntil != nil  // Only after the FIN, and only to discard.
        case .closed:
            return false
        }
    }

    private var wantsToWrite: Bool { unsentOutputCount > 0 && sendBlocked }
    private var interestChanged: Bool { wantsToRead != watchingRead || wantsToWrite != watchingWrite }

    // MARK: - Events

    mutating func handle(_ event: Event, now: MonotonicTime) {
        switch event {
        case .received(let bytes):
            // A closing connection discards what it reads: nothing more is parsed, buffered or counted as activity.
            guard phase == .reading || phase == .awaitingResponse else { return }
            input.append(contentsOf: bytes)
            lastActivity = now
        case .inputEnded:
            peerClosed = true
        case .sent(let count):
            outputStart += count
            if count > 0 { sendStalledSince = outputStart < output.count ? now : nil }
            if outputStart == output.count {
                output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
                outputStart = 0
            }
        case .sendWouldBlock:
            sendBlocked = true
        case .writable:
            sendBlocked = false
        case .responded(let response, let date):
            guard phase == .awaitingResponse, let (request, context) = current else { return }
            // RFC 9112 §9.6: after a FIN, answer every request received before it, closing after the last.
            let close = !request.keepAlive || draining || (peerClosed && bufferedInput == 0)
            queue(response, to: request, context: context, close: close, date: date, now: now)
        case .drain:
            draining = true
            guard phase == .reading && parser.isIdle && bufferedInput == 0 else { return }
            if unsentOutputCount == 0 { mustClose = true } else { startClosing() }
        case .failed:
            mustClose = true
        case .tick(let date):
            sweep(now: now, date: date)
        }
    }

    private mutating func sweep(now: MonotonicTime, date: String) {
        if let stalled = sendStalledSince, now.since(stalled) > limits.writeTimeout {
            mustClose = true  // A peer that never reads (issue 13): its output cannot wait forever.
            return
        }
        switch phase {
        case .reading:
            if let started = requestStartedAt {
                guard now.since(started) > limits.headerTimeout else { return }
                // Slow or stalled client (slowloris): 408 and close (RFC 9110 §15.5.9).
                let context = RequestContext(remoteAddress: remoteAddress, receivedAt: now)
                queue(.error(HTTPError(408, "request not received in time")), to: nil, context: context, close: true,
                      date: date, now: now)
            } else if unsentOutputCount == 0, bufferedInput == 0, now.since(lastActivity) > limits.idleTimeout {
                mustClose = true
            }
        case .closing:
            if let until = lingerUntil, now >= until { mustClose = true }
        case .awaitingResponse, .closed:
            break  // The handler has its own deadlines.
        }
    }

    // MARK: - Actions

    /// The next thing the loop must do for this connection, or nil when it waits for the network or a handler.
    mutating func nextAction(now: MonotonicTime, date: @autoclosure () -> String) -> Action? {
        guard phase != .closed else { return nil }
        isProcessing = true
        while true {
            if let (request, response, context) = completion {
                completion = nil
                return .completed(request, response, context)
            }
            if mustClose {
                phase = .closed
                isProcessing = false
                return .close
            }
            if unsentOutputCount > 0 && !sendBlocked {
                if sendStalledSince == nil { sendStalledSince = now }
                return .send
            }
            if phase == .closing && unsentOutputCount == 0 && lingerUntil == nil {
                // No linger when the peer has finished already, or when the server is stopping.
                if peerClosed || draining {
                    mustClose = true
                    continue
                }
                lingerUntil = now + limits.linger
                return .shutdownWrite
            }
            if phase == .closing && peerClosed && lingerUntil != nil {
                mustClose = true
                continue
            }
            if interestChanged {
                watchingRead = wantsToRead
                watchingWrite = wantsToWrite
                return .watch(read: watchingRead, write: watchingWrite)
            }
            guard phase == .reading, unsentOutputCount < limits.maxOutputBytes else { break }
            if let action = parseNext(now: now, date: date) { return action }
            // Parsing may have changed the phase, queued output or freed input (so reading may resume).
            if phase != .reading || completion != nil || (unsentOutputCount > 0 && !sendBlocked) || interestChanged { continue }
            break
        }
        isProcessing = false
        return nil
    }

    /// Parses the buffered input once; nil when it needs more bytes or changed state the loop must look at again.
    private mutating func parseNext(now: MonotonicTime, date: () -> String) -> Action? {
        let (consumed, event) = input.withUnsafeBytes { raw in
            parser.parse(UnsafeRawBufferPointer(rebasing: raw[inputStart...]))
        }
        inputStart += consumed
        compactInput()
        switch event {
        case .needMore:
            if peerClosed {
                // Nothing more will come: a partial request can never complete. Send what is queued, then close.
                startClosing()
            } else if requestStartedAt == nil && (!parser.isIdle || bufferedInput > 0) {
                requestStartedAt = now
            }
            return nil
        case .continueNeeded:
            // RFC 9110 §10.1.1: tell the client to send the body it is holding back.
            output.append(contentsOf: Self.continueResponse)
            return nil
        case .request(let request):
            requestStartedAt = nil
            phase = .awaitingResponse
            let context = RequestContext(remoteAddress: remoteAddress, receivedAt: now)
            current = (request, context)
            return .dispatch(request, context)
        case .failure(let error):
            let context = RequestContext(remoteAddress: remoteAddress, receivedAt: now)
            queue(.error(error), to: nil, context: context, close: true, date: date(), now: now)
            return nil
        }
    }

    private mutating func queue(_ response: HTTPResponse, to request: HTTPRequest?, context: RequestContext, close: Bool,
                                date: String, now: MonotonicTime)
    {
        response.write(into: &output, version: request?.version ?? .http11, date: date, close: close,
                       headOnly: request?.method == "HEAD")
        current = nil
        requestStartedAt = nil
        completion = (request, response, context)
        if close {
            startClosing()
        } else {
            phase = .reading
            lastActivity = now
        }
    }

    private mutating func startClosing() {
        phase = .closing
        requestStartedAt = nil
        // What was read but not answered is dropped: a closing connection holds no input.
        input = []
        inputStart = 0
    }

    /// Drops consumed input so the buffer does not grow across a long keep-alive or pipelined connection.
    private mutating func compactInput() {
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputStart = 0
        } else if inputStart > 32 * 1024 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }

    private static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
