import Glibc
import Synchronization
import SystemShims

/// One epoll loop on its own thread: readiness, a task queue woken by an eventfd, accepting, and the system calls
/// of the connections it accepted. What a connection does next is decided by its `ConnectionStateMachine`.
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
    private let addressCount: AddressConnectionCounter
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
         connectionCount: ConnectionCounter, addressCount: AddressConnectionCounter, balancer: ConnectionBalancer,
         index: Int) throws(Socket.Failure)
    {
        self.listenFD = listenFD
        self.limits = limits
        self.responder = responder
        self.observer = observer
        self.connectionCount = connectionCount
        self.addressCount = addressCount
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
            for case let connection? in connections {
                connection.machine.handle(.drain, now: .now())
                drive(connection)
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
                    ready(connection, flags: flags)
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
            let remoteAddress = Socket.address(of: address)
            guard connectionCount.tryAcquire(limit: limits.maxConnections) else {
                refuse(fd, reason: "max_connections")
                continue
            }
            guard addressCount.tryAcquire(remoteAddress, limit: limits.maxConnectionsPerAddress) else {
                connectionCount.release()
                refuse(fd, reason: "max_connections_per_address")
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
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

    private func refuse(_ fd: Int32, reason: String) {
        // Counted first, so the metric never lags what the client has already seen.
        observer.connectionRefused(reason: reason)
        // Over the limit: a short answer beats a silent reset (RFC 9110 §15.6.4).
        let refusal = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n".utf8)
        _ = refusal.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    /// Takes over an accepted connection; on the loop thread. `balancer` already counts it for this loop.
    private func adopt(_ fd: Int32, remoteAddress: String) {
        guard !draining else {
            release(remoteAddress)
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

    // MARK: - Connections

    private func ready(_ connection: HTTPConnection, flags: UInt32) {
        let now = MonotonicTime.now()
        if flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            // Reset, or both directions shut: nobody is left to answer.
            connection.machine.handle(.failed, now: now)
        } else {
            if flags & EPOLLOUT.rawValue != 0 { connection.machine.handle(.writable, now: now) }
            if flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { connection.read(into: &scratch) }
        }
        drive(connection)
    }

    /// Carries out the machine's actions until it waits for the network or a handler.
    private func drive(_ connection: HTTPConnection) {
        // A response delivered synchronously from inside `dispatch` is picked up by the loop below.
        guard !connection.machine.isProcessing else { return }
        while let action = connection.machine.nextAction(now: .now(), date: date.now()) {
            switch action {
            case .dispatch(let request, let context):
                dispatch(request, context: context, to: connection)
            case .send:
                connection.send(now: .now())
            case .watch(let read, let write):
                var events: UInt32 = read ? EPOLLIN.rawValue | EPOLLRDHUP.rawValue : 0
                if write { events |= EPOLLOUT.rawValue }
                watch(connection.fd, events: events, add: false)
            case .completed(let request, let response, let context):
                observer.requestCompleted(request, response, context: context, duration: MonotonicTime.now().since(context.receivedAt))
            case .shutdownWrite:
                shutdown(connection.fd, Int32(SHUT_WR))
            case .close:
                return closeConnection(connection)
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
        guard let connection = connection(for: fd), connection.serial == serial else { return }
        connection.machine.handle(.responded(response, date: date.now()), now: .now())
        drive(connection)
    }

    private func sweepTimeouts(now: MonotonicTime) {
        for case let connection? in connections {
            connection.machine.handle(.tick(date: date.now()), now: now)
            drive(connection)
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
        release(connection.remoteAddress)
    }

    private func release(_ remoteAddress: String) {
        addressCount.release(remoteAddress, limit: limits.maxConnectionsPerAddress)
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

    private func watch(_ fd: Int32, events: UInt32, add: Bool) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd))
        epoll_ctl(epollFD, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event)
    }
}
