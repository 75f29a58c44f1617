import Dispatch
import Foundation
import Glibc
import PluginProtocol
import Synchronization

/// One JSON-RPC session with one plugin process: sends calls, matches answers by id, enforces timeouts.
///
/// Any thread may call; a dedicated thread reads the plugin's stdout and completes calls on it, so a
/// completion must be quick (resume a continuation, hand off to an event loop). Writes go straight to the
/// non-blocking pipe; what the pipe cannot take waits in a bounded outbox that a background flush drains.
///
/// The connection closes itself, failing every call in flight, when the plugin closes stdout, writes a
/// line that is not JSON-RPC, answers an id it was never sent, or leaves a call unanswered for a whole
/// timeout without saying anything else. The supervisor then ends the process and starts another.
final class PluginConnection: Sendable {
    typealias Completion = @Sendable (Result<JSONValue, PluginCallError>) -> Void

    private struct Pending {
        let method: String
        let sentAt: MonotonicTime
        let deadline: MonotonicTime
        let timeout: Duration
        let completion: Completion
    }

    private struct State {
        var pending: [Int64: Pending] = [:]
        var closed: CloseReason?
        var lastHeard: MonotonicTime
        var nextSweep: MonotonicTime?
        /// Ids that timed out recently: an answer to one of them is late, not a protocol violation.
        var expired = RecentIDs(capacity: 4096)
    }

    let plugin: String
    let process: PluginProcess
    private let logger: Logger
    private let maxLineLength: Int
    private let maxOutbox: Int
    private let nextID = Atomic<Int64>(1)
    private let state: Mutex<State>
    /// Kept apart from `state` so that a write syscall never holds up the reader thread completing calls.
    private let writer = Mutex(WriterState())

    private struct WriterState {
        var outbox: [UInt8] = []
        var flushing = false
        var inputClosed = false
    }
    private let onClose: @Sendable (CloseReason) -> Void
    private let onNotification: @Sendable (String, JSONValue) -> Void

    init(plugin: String, process: PluginProcess, logger: Logger, maxLineLength: Int, maxOutbox: Int = 8 << 20,
         onNotification: @escaping @Sendable (String, JSONValue) -> Void,
         onClose: @escaping @Sendable (CloseReason) -> Void)
    {
        self.plugin = plugin
        self.process = process
        self.logger = logger
        self.maxLineLength = maxLineLength
        self.maxOutbox = maxOutbox
        self.onClose = onClose
        self.onNotification = onNotification
        self.state = Mutex(State(lastHeard: .now()))
    }

    /// Starts the threads that read the plugin's stdout and stderr.
    func start() {
        let plugin = self.plugin
        let stdoutThread = Foundation.Thread { [self] in
            ThreadName.set("\(plugin)-out")
            readResponses()
        }
        stdoutThread.start()
        let forwarder = StderrForwarder(fd: process.stderr, logger: logger)
        let stderrThread = Foundation.Thread {
            ThreadName.set("\(plugin)-err")
            forwarder.run()
        }
        stderrThread.start()
    }

    var inFlight: Int { state.withLock { $0.pending.count } }
    var isClosed: Bool { state.withLock { $0.closed != nil } }

    func call(method: String, params: JSONValue, timeout: Duration, completion: @escaping Completion) {
        switch params {
        case .object, .array, .null: break
        default:
            // JSON-RPC 2.0 §4.2: params are structured. Refuse here; a plugin would rightly answer with an
            // error we could not match to this call.
            let error = RPCError(.invalidParams, "params must be an object or an array")
            return completion(.failure(.remote(plugin: plugin, error: error)))
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let line = RPCMessage.request(id: .int(id), method: method, params: params).line()
        let now = MonotonicTime.now()
        let call = Pending(method: method, sentAt: now, deadline: now + timeout, timeout: timeout, completion: completion)
        var closedReason: CloseReason?
        var sweepAt: MonotonicTime?
        // Register before writing: the answer may arrive before the write call returns.
        state.withLock { state in
            if let reason = state.closed {
                closedReason = reason
                return
            }
            state.pending[id] = call
            if state.nextSweep.map({ call.deadline < $0 }) ?? true {
                state.nextSweep = call.deadline
                sweepAt = call.deadline
            }
        }
        if let closedReason { return completion(.failure(.unavailable(plugin: plugin, reason: closedReason.description))) }
        guard enqueue(line) else {
            if state.withLock({ $0.pending.removeValue(forKey: id) }) != nil {
                completion(.failure(.overloaded(plugin: plugin)))
            }
            return
        }
        if let sweepAt { scheduleSweep(at: sweepAt) }
    }

    /// Sends a notification; nothing comes back. Dropped silently once the connection is closed.
    func notify(method: String, params: JSONValue) {
        let line = RPCMessage.notification(method: method, params: params).line()
        guard !isClosed else { return }
        _ = enqueue(line)
    }

    /// Fails every call in flight and closes the plugin's stdin, which tells a well-behaved plugin to exit.
    func close(_ reason: CloseReason) {
        let orphans: [Pending]? = state.withLock { state in
            guard state.closed == nil else { return nil }
            state.closed = reason
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        guard let orphans else { return }
        writer.withLock { writer in
            writer.outbox = []
            closeInput(&writer)
        }
        let error: PluginCallError = reason == .closedByHost
            ? .unavailable(plugin: plugin, reason: "the plugin is stopping")
            : .connectionLost(plugin: plugin, reason: reason.description)
        for call in orphans { call.completion(.failure(error)) }
        onClose(reason)
    }

    // MARK: - Writing

    /// Writes what the pipe takes now; queues the rest. False if the outbox would exceed its bound.
    private func enqueue(_ line: [UInt8]) -> Bool {
        writer.withLock { writer in
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

    /// One non-blocking write; how many bytes went out (0 on EAGAIN or a dead pipe).
    private func writeSome(_ raw: UnsafeRawBufferPointer) -> Int {
        while true {
            let written = Glibc.write(process.stdin, raw.baseAddress!, raw.count)
            if written >= 0 { return written }
            if errno == EINTR { continue }
            return 0  // EAGAIN: the outbox keeps it. EPIPE: the reader sees EOF and closes the connection.
        }
    }

    private func flushOutbox() {
        while true {
            var descriptor = pollfd(fd: process.stdin, events: Int16(POLLOUT), revents: 0)
            _ = poll(&descriptor, 1, 100)
            let done = writer.withLock { writer -> Bool in
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

    private func closeInput(_ writer: inout WriterState) {
        guard !writer.inputClosed else { return }
        writer.inputClosed = true
        Glibc.close(process.stdin)
    }

    // MARK: - Reading

    private func readResponses() {
        var framer = LineFramer(maxLineLength: maxLineLength)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var violation: String?
        while violation == nil {
            let count = chunk.withUnsafeMutableBytes { read(process.stdout, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            chunk.withUnsafeBytes { raw in
                framer.append(UnsafeRawBufferPointer(rebasing: raw[0..<count])) { frame in
                    guard violation == nil else { return }
                    violation = receive(frame)
                }
            }
        }
        Glibc.close(process.stdout)
        close(violation.map { .protocolViolation($0) } ?? .stdoutClosed)
    }

    /// Handles one frame from stdout; returns a description of the violation if it broke the protocol.
    private func receive(_ frame: LineFramer.Frame) -> String? {
        let message: RPCMessage
        switch frame {
        case .oversized(let byteCount):
            return "a line of \(byteCount)+ bytes exceeds the \(maxLineLength)-byte limit"
        case .line(let bytes):
            do {
                message = try RPCMessage(line: bytes)
            } catch {
                return "not a JSON-RPC message (\(error))"
            }
        }
        switch message {
        case .response(let id, let outcome):
            return complete(id, outcome)
        case .notification(let method, let params):
            state.withLock { $0.lastHeard = .now() }
            onNotification(method, params)
            return nil
        case .request(let id, let method, _):
            // The host serves no methods to plugins (protocol v1).
            let answer = RPCMessage.response(
                id: id, outcome: .failure(RPCError(.methodNotFound, "the host serves no method '\(method)'")))
            _ = enqueue(answer.line())
            return nil
        }
    }

    private func complete(_ id: RPCID?, _ outcome: Result<JSONValue, RPCError>) -> String? {
        guard case .int(let number)? = id else {
            if case .failure(let error) = outcome {
                return "the plugin could not read a request: \(error.message)"
            }
            return "response without a usable id"
        }
        enum Match { case found(Pending), late, unknown }
        let match = state.withLock { state -> Match in
            state.lastHeard = .now()
            if let call = state.pending.removeValue(forKey: number) { return .found(call) }
            return state.expired.contains(number) ? .late : .unknown
        }
        switch match {
        case .found(let call) where MonotonicTime.now() > call.deadline:
            // Past its deadline but before the sweep got to it: the caller asked for an answer within
            // `timeout`, so this is a timeout, however the timer thread was scheduled.
            call.completion(.failure(.timedOut(plugin: plugin, method: call.method, after: call.timeout)))
            return nil
        case .found(let call):
            call.completion(outcome.mapError { .remote(plugin: plugin, error: $0) })
            return nil
        case .late:
            logger.debug("late answer after timeout dropped", ["rpc.id": .int(number)])
            return nil
        case .unknown:
            return "response to unknown id \(number)"
        }
    }

    // MARK: - Timeouts

    private func scheduleSweep(at deadline: MonotonicTime) {
        let delay = deadline.since(.now())
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay.nanosecondsClamped))) {
            [weak self] in self?.sweep()
        }
    }

    private func sweep() {
        let now = MonotonicTime.now()
        var expired: [Pending] = []
        var silentSinceCall: String?
        let next = state.withLock { state -> MonotonicTime? in
            guard state.closed == nil else { return nil }
            for (id, call) in state.pending where call.deadline <= now {
                state.pending[id] = nil
                state.expired.insert(id)
                expired.append(call)
                if state.lastHeard <= call.sentAt { silentSinceCall = call.method }
            }
            state.nextSweep = state.pending.values.lazy.map(\.deadline).min()
            return state.nextSweep
        }
        for call in expired {
            call.completion(.failure(.timedOut(plugin: plugin, method: call.method, after: call.timeout)))
        }
        if let method = silentSinceCall {
            // Nothing at all came back for a whole timeout while a call waited: the plugin is hung
            // (stopped, deadlocked, spinning). Restarting it is the only way back to service.
            close(.unresponsive(method: method))
        } else if let next {
            scheduleSweep(at: next)
        }
    }
}
