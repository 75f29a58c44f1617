import Glibc
import Synchronization
import SystemShims

/// One epoll loop on its own thread: accepts from its own listener, reads, parses, dispatches requests,
/// writes responses and enforces timeouts for the connections it accepted.
///
/// All connection state is confined to the loop's thread. The only ways in from other threads are
/// `execute` (a locked queue plus an eventfd wake-up) and the atomic flags read by `run`.
final class EventLoop: @unchecked Sendable {
    // @unchecked: `connections`, `scratch`, `date`, `draining` and `drainDeadline` are read and written only
    // on the loop thread (inside `run` and the tasks it drains); everything shared is in `tasks` (Mutex)
    // or immutable.
    private let epollFD: Int32
    private let wakeFD: Int32
    private let listenFD: Int32
    private let limits: HTTPLimits
    private let responder: any HTTPResponder
    private let observer: any HTTPObserver
    private let connectionCount: ConnectionCounter
    private let balancer: ConnectionBalancer
    /// This loop's place in `balancer`.
    private let index: Int
    private let tasks = Mutex<[() -> Void]>([])
    private let threadID = Atomic<UInt>(0)

    private var connections: [HTTPConnection?] = []
    private var nextSerial: UInt64 = 0
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private var date = HTTPDate()
    private var draining = false
    private var drainDeadline: MonotonicTime?
    private let finished = Atomic<Bool>(false)

    init(listenFD: Int32, limits: HTTPLimits, responder: any HTTPResponder, observer: any HTTPObserver,
         connectionCount: ConnectionCounter, balancer: ConnectionBalancer, index: Int) throws(Socket.Failure)
    {
        self.listenFD = listenFD
        self.limits = limits
        self.responder = responder
        self.observer = observer
        self.connectionCount = connectionCount
        self.balancer = balancer
        self.index = index
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard epollFD >= 0, wakeFD >= 0 else { throw Socket.Failure(description: "epoll: \(String(cString: strerror(errno)))") }
        // The listener is shared by every loop; EPOLLEXCLUSIVE wakes one of them per new connection.
        watch(listenFD, events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue, add: true)
        watch(wakeFD, events: EPOLLIN.rawValue, add: true)
    }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Runs `task` on the loop thread, soon.
    func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = tasks.withLock { queue -> Bool in
            queue.append(task)
            return queue.count == 1
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Stops accepting (the server closes the shared listener once every loop has stopped); open connections
    /// finish their current request and close; after `grace` the rest are closed. `run` returns when no
    /// connection is left.
    func drain(grace: Duration) {
        execute { [self] in
            draining = true
            drainDeadline = .now() + grace
            epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
            for case let connection? in connections where connection.phase == .reading && connection.parser.isIdle
                && connection.bufferedInput == 0
            {
                closeConnection(connection)
            }
        }
    }

    func run() {
        threadID.store(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))), ordering: .relaxed)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = MonotonicTime.now()
        while true {
            let count = epoll_wait(epollFD, &events, Int32(events.count), 250)
            if count < 0 && errno != EINTR { break }
            for index in 0..<max(0, Int(count)) {
                let fd = Int32(truncatingIfNeeded: events[index].data.u64)
                let flags = events[index].events
                if fd == listenFD {
                    if !draining { acceptConnections() }
                } else if fd == wakeFD {
                    runTasks()
                } else if let connection = connection(for: fd) {
                    if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readable(connection) }
                    if flags & EPOLLOUT.rawValue != 0, self.connection(for: fd) === connection { writable(connection) }
                }
            }
            let now = MonotonicTime.now()
            if now.since(lastSweep) >= .milliseconds(250) {
                lastSweep = now
                sweepTimeouts(now: now)
            }
            if draining {
                // Counted by the balancer, so a connection handed over by another loop and not yet adopted
                // keeps this loop running until it arrives (and is closed).
                if balancer.openConnections(on: index) == 0 { break }
                if let deadline = drainDeadline, now >= deadline {
                    for case let connection? in connections { closeConnection(connection) }
                    break
                }
            }
        }
        finished.store(true, ordering: .releasing)
    }

    deinit {
        // Closed here, not when `run` returns: a late `execute` (a plugin answering after the drain) must not
        // write to a descriptor number that something else may have reused.
        close(wakeFD)
        close(epollFD)
    }

    // MARK: - Accepting

    private func acceptConnections() {
        while true {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { gatehouse_accept_nonblocking(listenFD, $0, &length) }
            }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN: all taken. EMFILE and friends: try again on the next wake-up.
            }
            guard connectionCount.tryAcquire(limit: limits.maxConnections) else {
                // Counted first, so the metric never lags what the client has already seen.
                observer.connectionRefused(reason: "max_connections")
                // Over the limit: a short answer beats a silent reset (RFC 9110 §15.6.4).
                let refusal = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n".utf8)
                _ = refusal.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let remoteAddress = Socket.address(of: address)
            // One loop may wake for a whole burst of connections (EPOLLEXCLUSIVE wakes one waiter); left there,
            // a benchmark's 32 connections can all land on one loop and leave the other core idle. Each goes
            // to the loop with the fewest open connections instead.
            let target = balancer.assign(preferring: index)
            if target === self {
                adopt(fd, remoteAddress: remoteAddress)
            } else {
                target.execute { [target] in target.adopt(fd, remoteAddress: remoteAddress) }
            }
        }
    }

    /// Takes over an accepted connection; on the loop thread. `balancer` already counts it for this loop.
    private func adopt(_ fd: Int32, remoteAddress: String) {
        guard !draining else {
            balancer.release(index)
            connectionCount.release()
            close(fd)
            return
        }
        nextSerial += 1
        let connection = HTTPConnection(fd: fd, remoteAddress: remoteAddress, serial: nextSerial, limits: limits, now: .now())
        if Int(fd) >= connections.count {
            connections += [HTTPConnection?](repeating: nil, count: Int(fd) + 1 - connections.count + 64)
        }
        connections[Int(fd)] = connection
        watch(fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, add: true)
    }

    // MARK: - Reading and dispatch

    private func readable(_ connection: HTTPConnection) {
        while true {
            let count = scratch.withUnsafeMutableBytes { read(connection.fd, $0.baseAddress, $0.count) }
            if count > 0 {
                connection.input.append(contentsOf: scratch[0..<count])
                connection.lastActivity = .now()
                if count < scratch.count { break }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            // End of stream or a socket error.
            if count < 0 || connection.phase != .awaitingResponse {
                if connection.phase == .closing && count == 0 {
                    setReadInterest(connection, false)
                    return
                }
                return closeConnection(connection)
            }
            // Half-close after sending a request: answer it, then close.
            connection.peerClosed = true
            setReadInterest(connection, false)
            return
        }
        process(connection)
    }

    private func process(_ connection: HTTPConnection) {
        guard !connection.processing else { return }
        connection.processing = true
        defer { connection.processing = false }
        while connection.phase == .reading {
            let (consumed, event) = connection.input.withUnsafeBytes { raw in
                connection.parser.parse(UnsafeRawBufferPointer(rebasing: raw[connection.inputStart...]))
            }
            connection.inputStart += consumed
            switch event {
            case .needMore:
                if connection.requestStartedAt == nil && (!connection.parser.isIdle || connection.bufferedInput > 0) {
                    connection.requestStartedAt = .now()
                }
                connection.compactInput()
                return
            case .continueNeeded:
                // RFC 9110 §10.1.1: tell the client to send the body it is holding back.
                connection.output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                guard connection.flush() else { return closeConnection(connection) }
            case .request(let request):
                connection.requestStartedAt = nil
                connection.phase = .awaitingResponse
                connection.current = request
                let context = RequestContext(remoteAddress: connection.remoteAddress, receivedAt: .now())
                connection.currentContext = context
                dispatch(request, context: context, to: connection)
                if connection.phase == .awaitingResponse && connection.bufferedInput > limits.maxHeaderBytes + limits.maxBodyBytes {
                    setReadInterest(connection, false)  // A pipelined flood waits in the kernel, not here.
                }
            case .failure(let error):
                let context = RequestContext(remoteAddress: connection.remoteAddress, receivedAt: .now())
                finish(connection, request: nil, context: context, response: .error(error), close: true)
                return
            }
        }
    }

    private func dispatch(_ request: HTTPRequest, context: RequestContext, to connection: HTTPConnection) {
        let fd = connection.fd
        let serial = connection.serial
        responder.respond(to: request, context: context) { [self] response in
            if isOnLoopThread {
                deliver(response, fd: fd, serial: serial)
            } else {
                execute { [self] in deliver(response, fd: fd, serial: serial) }
            }
        }
    }

    private var isOnLoopThread: Bool {
        threadID.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
    }

    private func deliver(_ response: HTTPResponse, fd: Int32, serial: UInt64) {
        // The connection may have closed (timeout, reset) while the handler worked; drop the answer then.
        guard let connection = connection(for: fd), connection.serial == serial,
            connection.phase == .awaitingResponse, let request = connection.current, let context = connection.currentContext
        else { return }
        let close = !request.keepAlive || draining || connection.peerClosed
        finish(connection, request: request, context: context, response: response, close: close)
        guard connection.phase == .reading, self.connection(for: fd) === connection else { return }
        setReadInterest(connection, true)
        process(connection)
    }

    private func finish(_ connection: HTTPConnection, request: HTTPRequest?, context: RequestContext,
                        response: HTTPResponse, close: Bool)
    {
        response.write(into: &connection.output, version: request?.version ?? .http11, date: date.now(), close: close,
                       headOnly: request?.method == "HEAD")
        connection.current = nil
        connection.currentContext = nil
        connection.phase = close ? .closing : .reading
        observer.requestCompleted(request, response, context: context, duration: MonotonicTime.now().since(context.receivedAt))
        guard connection.flush() else { return closeConnection(connection) }
        if connection.hasPendingOutput {
            setWriteInterest(connection, true)
        } else if close {
            closeConnection(connection)
        }
    }

    private func writable(_ connection: HTTPConnection) {
        guard connection.flush() else { return closeConnection(connection) }
        guard !connection.hasPendingOutput else { return }
        setWriteInterest(connection, false)
        if connection.phase == .closing { closeConnection(connection) }
    }

    // MARK: - Timeouts

    private func sweepTimeouts(now: MonotonicTime) {
        for case let connection? in connections {
            if let started = connection.requestStartedAt, connection.phase == .reading,
                now.since(started) > limits.headerTimeout
            {
                // Slow or stalled client (slowloris): 408 and close (RFC 9110 §15.5.9).
                let context = RequestContext(remoteAddress: connection.remoteAddress, receivedAt: now)
                finish(connection, request: nil, context: context,
                       response: .error(HTTPError(408, "request not received in time")), close: true)
            } else if connection.phase == .reading, connection.requestStartedAt == nil, !connection.hasPendingOutput,
                now.since(connection.lastActivity) > limits.idleTimeout
            {
                closeConnection(connection)
            } else if connection.phase == .closing, now.since(connection.lastActivity) > limits.idleTimeout {
                closeConnection(connection)  // A client that never reads its last response.
            }
        }
    }

    // MARK: - Bookkeeping

    private func connection(for fd: Int32) -> HTTPConnection? {
        Int(fd) < connections.count ? connections[Int(fd)] : nil
    }

    private func closeConnection(_ connection: HTTPConnection) {
        guard self.connection(for: connection.fd) === connection else { return }
        connections[Int(connection.fd)] = nil
        epoll_ctl(epollFD, EPOLL_CTL_DEL, connection.fd, nil)
        close(connection.fd)
        connectionCount.release()
        balancer.release(index)
    }

    private func runTasks() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        let pending = tasks.withLock { queue -> [() -> Void] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for task in pending { task() }
    }

    private func setReadInterest(_ connection: HTTPConnection, _ on: Bool) {
        guard connection.watchingRead != on, !(on && connection.peerClosed) else { return }
        connection.watchingRead = on
        updateInterest(connection)
    }

    private func setWriteInterest(_ connection: HTTPConnection, _ on: Bool) {
        guard connection.watchingWrite != on else { return }
        connection.watchingWrite = on
        updateInterest(connection)
    }

    private func updateInterest(_ connection: HTTPConnection) {
        var events = EPOLLRDHUP.rawValue
        if connection.watchingRead { events |= EPOLLIN.rawValue }
        if connection.watchingWrite { events |= EPOLLOUT.rawValue }
        watch(connection.fd, events: events, add: false)
    }

    private func watch(_ fd: Int32, events: UInt32, add: Bool) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd))
        epoll_ctl(epollFD, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event)
    }
}

/// Which loop serves each new connection: the one with the fewest open connections, the accepting loop on a tie.
/// Consulted once per connection (accept and close), never per request.
final class ConnectionBalancer: Sendable {
    private struct State {
        var loops: [EventLoop] = []
        var open: [Int]
    }
    private let state: Mutex<State>

    init(loopCount: Int) { state = Mutex(State(open: [Int](repeating: 0, count: loopCount))) }

    /// Called once, with the loops in index order, before any of them runs.
    func register(_ loops: [EventLoop]) { state.withLock { $0.loops = loops } }

    /// Picks the loop for a new connection and counts the connection for it.
    func assign(preferring preferred: Int) -> EventLoop {
        state.withLock { state in
            var best = preferred
            for index in state.open.indices where state.open[index] < state.open[best] { best = index }
            state.open[best] += 1
            return state.loops[best]
        }
    }

    func release(_ index: Int) { state.withLock { $0.open[index] -= 1 } }

    func openConnections(on index: Int) -> Int { state.withLock { $0.open[index] } }
}

/// Open connections across all loops, against `maxConnections`.
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    func tryAcquire(limit: Int) -> Bool {
        let previous = count.wrappingAdd(1, ordering: .relaxed).oldValue
        if previous >= limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { count.wrappingSubtract(1, ordering: .relaxed) }

    var current: Int { count.load(ordering: .relaxed) }
}
