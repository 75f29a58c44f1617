import Foundation
import Glibc

/// The HTTP/1.1 server: one event loop per thread, all accepting from one listening socket.
public final class HTTPServer: Sendable {
    public let host: String
    public let port: UInt16
    private let loops: [EventLoop]
    private let listenFD: Int32
    private let connectionCount = ConnectionCounter()
    private let addressCount: AddressConnectionCounter
    private let balancer: ConnectionBalancer

    /// Binds at once (so a taken port fails here, before plugins start) and starts serving.
    public init(host: String, port: UInt16, limits: HTTPLimits, responder: any HTTPResponder,
                observer: any HTTPObserver) throws
    {
        let threads = limits.threads > 0 ? limits.threads : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let listener = try Socket.listen(host: host, port: port)
        balancer = ConnectionBalancer(loopCount: threads)
        let addressCount = AddressConnectionCounter(uncapped: limits.uncappedAddresses)
        self.addressCount = addressCount
        var loops: [EventLoop] = []
        for index in 0..<threads {
            loops.append(try EventLoop(listenFD: listener.fd, limits: limits, responder: responder, observer: observer,
                                       connectionCount: connectionCount, addressCount: addressCount, balancer: balancer,
                                       index: index))
        }
        balancer.register(loops)
        self.host = host
        self.port = listener.port
        self.listenFD = listener.fd
        self.loops = loops
        let loopsCoverCores = threads >= ProcessInfo.processInfo.activeProcessorCount
        for (index, loop) in loops.enumerated() {
            let thread = Thread {
                ThreadName.set("http-loop-\(index)")
                LoopThread.markCurrent(loopsCoverCores: loopsCoverCores)
                loop.run()
            }
            thread.start()
        }
    }

    public var openConnections: Int { connectionCount.current }

    /// Open connections of each event loop, in loop order.
    var openConnectionsPerLoop: [Int] { loops.indices.map { balancer.openConnections(on: $0) } }

    /// Stops accepting, lets requests in flight finish (up to `grace`), then closes everything. Blocks.
    public func shutdown(grace: Duration = .seconds(10)) {
        loops.forEach { $0.drain(grace: grace) }
        while !loops.allSatisfy(\.isFinished) { usleep(5_000) }
        close(listenFD)
        balancer.register([])  // The loops and the balancer refer to each other; this lets the loops go.
    }
}
