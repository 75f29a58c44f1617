import Foundation
import PluginProtocol
import Synchronization

/// One JSON-RPC session with one plugin process: sends calls, matches answers by id, enforces timeouts.
///
/// Any thread may call; a dedicated thread reads the plugin's stdout and completes calls on it, so a
/// completion must be quick (resume a continuation, hand off to an event loop). Writes go straight to the
/// non-blocking pipe; what the pipe cannot take waits in a bounded outbox that a background flush drains
/// (`PluginInputWriter`). Reading is in `PluginConnection+Reading.swift`, deadlines in `+Timeouts.swift`.
///
/// The connection closes itself, failing every call in flight, when the plugin closes stdout, writes a
/// line that is not JSON-RPC, answers an id it was never sent, or leaves a call unanswered for a whole
/// timeout without saying anything else. The supervisor then ends the process and starts another.
final class PluginConnection: Sendable {
    typealias Completion = @Sendable (Result<JSONValue, PluginCallError>) -> Void

    struct Pending {
        let method: String
        let sentAt: MonotonicTime
        let deadline: MonotonicTime
        let timeout: Duration
        let completion: Completion
    }

    struct State {
        var pending: [Int64: Pending] = [:]
        var closed: CloseReason?
        var lastHeard: MonotonicTime
        var nextSweep: MonotonicTime?
        /// Ids that timed out recently: an answer to one of them is late, not a protocol violation.
        var expired = RecentIDs(capacity: 4096)
    }

    let plugin: String
    let process: PluginProcess
    let logger: Logger
    let maxLineLength: Int
    private let nextID = Atomic<Int64>(1)
    let state: Mutex<State>
    /// Kept apart from `state` so that a write syscall never holds up the reader thread completing calls.
    private let input: PluginInputWriter
    private let onClose: @Sendable (CloseReason) -> Void
    let onNotification: @Sendable (String, JSONValue) -> Void

    init(plugin: String, process: PluginProcess, logger: Logger, maxLineLength: Int, maxOutbox: Int = 8 << 20,
         onNotification: @escaping @Sendable (String, JSONValue) -> Void,
         onClose: @escaping @Sendable (CloseReason) -> Void)
    {
        self.plugin = plugin
        self.process = process
        self.logger = logger
        self.maxLineLength = maxLineLength
        input = PluginInputWriter(fd: process.stdin, maxOutbox: maxOutbox)
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
        guard input.enqueue(line) else {
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
        _ = input.enqueue(line)
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
        input.close()
        let error: PluginCallError = reason == .closedByHost
            ? .unavailable(plugin: plugin, reason: "the plugin is stopping")
            : .connectionLost(plugin: plugin, reason: reason.description)
        for call in orphans { call.completion(.failure(error)) }
        onClose(reason)
    }

    /// Queues a line for the plugin's stdin (the reader answers a plugin's request this way).
    func send(_ line: [UInt8]) { _ = input.enqueue(line) }
}
