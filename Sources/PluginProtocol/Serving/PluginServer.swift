import Glibc

/// The serve loop of a Swift plugin: register methods, then `run()` answers the host over stdin/stdout.
///
/// Handlers registered with `register` run one at a time on the serve thread, in arrival order, so plugin
/// state needs no locks; answers to one read are written back in one `write`. Handlers registered with
/// `registerConcurrent` run on a global queue and may answer out of order (the host matches ids). Handlers
/// registered with `registerBatch` run on the serve thread too, once for each run of consecutive requests
/// for their method in one read (`PluginServer+Batch.swift`).
///
/// Lifecycle (Docs/plugin-protocol.md): requests before `initialize` get `notInitialized`; after `shutdown`
/// they get `shuttingDown`; `exit`, or end of input, ends the loop.
public final class PluginServer {
    public let name: String
    public let version: String
    public let role: PluginRole
    /// Protocol versions this plugin speaks; the highest one the host also offers is chosen.
    public let supportedVersions: [Int64]

    private enum Handler {
        case inline((JSONValue) throws -> JSONValue)
        case concurrent(@Sendable (JSONValue) throws -> JSONValue)
        case batch(BatchHandler)
    }

    private enum Phase { case awaitingInitialize, ready, shuttingDown }

    private var handlers: [String: Handler] = [:]
    private var configure: (InitializeParams) throws -> Void = { _ in }
    private var shutdownHooks: [() -> Void] = []
    private var phase = Phase.awaitingInitialize
    private let input: Int32
    private let output: FileDescriptorWriter
    private var pending: [UInt8] = []
    /// Requests for a batch method waiting for the end of their run (another request, the end of the read, or
    /// `maxBatchSize` of them); handed to the handler together.
    private var batch: PendingBatch?
    /// The most requests a batch handler gets in one call.
    public let maxBatchSize: Int

    public init(name: String, version: String, role: PluginRole,
                supportedVersions: [Int64] = Lifecycle.supportedVersions, input: Int32 = STDIN_FILENO,
                output: Int32 = STDOUT_FILENO, maxBatchSize: Int = 64)
    {
        precondition(maxBatchSize > 0, "maxBatchSize must be positive")
        self.maxBatchSize = maxBatchSize
        self.name = name
        self.version = version
        self.role = role
        self.supportedVersions = supportedVersions
        self.input = input
        self.output = FileDescriptorWriter(fd: output)
    }

    /// Called with the `initialize` params before the handshake is answered; throw an `RPCError` to refuse
    /// a configuration (the host reports the message and does not start the plugin).
    public func onInitialize(_ body: @escaping (InitializeParams) throws -> Void) {
        configure = body
    }

    /// Called on the serve thread when the host sends `shutdown`, or closes stdin without one: flush
    /// batched writes and close storage here.
    public func onShutdown(_ body: @escaping () -> Void) {
        shutdownHooks.append(body)
    }

    /// Sends notifications to the host (for example `invalidate`) from any thread.
    public var notifier: PluginNotifier { PluginNotifier(output: output) }

    public func register<P, R>(_ method: Method<P, R>, _ handler: @escaping (P) throws -> R) {
        handlers[method.name] = .inline { params in try handler(try Self.decode(P.self, params)).json }
    }

    public func registerConcurrent<P, R>(_ method: Method<P, R>, _ handler: @escaping @Sendable (P) throws -> R) {
        handlers[method.name] = .concurrent { params in try handler(try Self.decode(P.self, params)).json }
    }

    /// Registers a method whose requests are handed over together: consecutive requests for it in one read of
    /// stdin (what the host sent while the previous batch was being served), at most `maxBatchSize` at a time.
    /// `handler` gets their params in arrival order and returns one result per request, in the same order; a
    /// request whose params do not decode is answered `invalidParams` without reaching it, and an error it
    /// throws is the answer to every request of that batch (for example: the database is unreachable). Order
    /// on the serve thread is kept: a request for any other method first runs the batch that waits.
    public func registerBatch<P, R>(_ method: Method<P, R>, _ handler: @escaping ([P]) throws -> [Result<R, RPCError>]) {
        handlers[method.name] = .batch(Self.batchHandler(method, handler))
    }

    /// Serves until `exit` or end of input and returns the process exit status.
    public func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        if isatty(input) == 1 && getenv("GATEHOUSE_PLUGIN_INTERACTIVE") == nil {
            printTerminalHint()
            return 2
        }
        var framer = LineFramer()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                // The host closed our stdin: it is gone or wants us gone.
                if phase != .shuttingDown { shutdownHooks.forEach { $0() } }
                return 0
            }
            var exitStatus: Int32?
            chunk.withUnsafeBytes { raw in
                framer.append(UnsafeRawBufferPointer(rebasing: raw[0..<count])) { frame in
                    guard exitStatus == nil else { return }
                    exitStatus = handle(frame)
                }
            }
            runBatch()
            flush()
            if let exitStatus { return exitStatus }
        }
    }

    // MARK: - Dispatch

    private func handle(_ frame: LineFramer.Frame) -> Int32? {
        let message: Result<RPCMessage, RPCError>
        switch frame {
        case .oversized(let byteCount):
            message = .failure(RPCError(.invalidRequest, "message of \(byteCount)+ bytes exceeds the line limit"))
        case .line(let bytes):
            do {
                message = .success(try RPCMessage(line: bytes))
            } catch .json(let error) {
                message = .failure(RPCError(.parseError, "invalid JSON: \(error)"))
            } catch {
                message = .failure(RPCError(.invalidRequest, "\(error)"))
            }
        }
        if case .success(.request(let id, let method, let params)) = message, collect(id, method, params) { return nil }
        runBatch()  // Anything else keeps its place after the batch that waits.
        switch message {
        case .failure(let error):
            respond(nil, .failure(error))
            return nil
        case .success(let message):
            return dispatch(message)
        }
    }

    private func dispatch(_ message: RPCMessage) -> Int32? {
        switch message {
        case .response:
            return nil  // The host sends no requests we would be waiting on; ignore.
        case .notification(let method, _):
            if method == Lifecycle.exit.name { return phase == .shuttingDown ? 0 : 1 }
            return nil  // Unknown notifications are ignored (forward compatibility).
        case .request(let id, let method, let params):
            switch (phase, method) {
            case (_, Lifecycle.initialize.name):
                respond(id, initialize(params))
            case (.awaitingInitialize, _):
                respond(id, .failure(RPCError(.notInitialized, "'initialize' must come first")))
            case (.shuttingDown, _):
                respond(id, .failure(RPCError(.shuttingDown, "the plugin is shutting down")))
            case (.ready, Lifecycle.shutdown.name):
                phase = .shuttingDown
                shutdownHooks.forEach { $0() }
                respond(id, .success(.null))
            case (.ready, _):
                call(id, method, params)
            }
            return nil
        }
    }

    private func initialize(_ rawParams: JSONValue) -> Result<JSONValue, RPCError> {
        guard phase == .awaitingInitialize else { return .failure(RPCError(.invalidRequest, "already initialized")) }
        let params: InitializeParams
        do {
            params = try InitializeParams(json: rawParams)
        } catch {
            return .failure(RPCError(.invalidParams, error.message))
        }
        guard let chosen = params.protocolVersions.filter(supportedVersions.contains).max() else {
            let supported = supportedVersions.map(String.init).joined(separator: ", ")
            let offered = params.protocolVersions.map(String.init).joined(separator: ", ")
            return .failure(RPCError(.unsupportedProtocolVersion,
                "\(name) speaks protocol version \(supported); the host offered \(offered)",
                data: ["supported": .array(supportedVersions.map { .int($0) })]))
        }
        do {
            try configure(params)
        } catch {
            return .failure(Self.rpcError(from: error, method: Lifecycle.initialize.name))
        }
        phase = .ready
        let result = InitializeResult(name: name, version: version, protocolVersion: chosen, role: role,
                                      methods: handlers.keys.sorted())
        return .success(result.json)
    }

    /// Adds a request for a batch method to the batch that waits (running that one first if it is for another
    /// method or full); false if the request is not for a batch method or the plugin is not ready.
    private func collect(_ id: RPCID, _ method: String, _ params: JSONValue) -> Bool {
        guard phase == .ready, case .batch(let handler)? = handlers[method] else { return false }
        if let waiting = batch, waiting.method != method || waiting.requests.count >= maxBatchSize { runBatch() }
        if batch == nil { batch = PendingBatch(method: method, handler: handler) }
        batch?.requests.append((id, params))
        return true
    }

    private func runBatch() {
        guard let waiting = batch else { return }
        batch = nil
        for (request, outcome) in zip(waiting.requests, waiting.run()) { respond(request.id, outcome) }
    }

    private func call(_ id: RPCID, _ method: String, _ params: JSONValue) {
        switch handlers[method] {
        case nil:
            respond(id, .failure(RPCError(.methodNotFound, "unknown method '\(method)'")))
        case .inline(let handler):
            respond(id, Self.invoke(handler, params, method: method))
        case .batch(let handler):
            // Not reached (`collect` takes every ready request for a batch method); a batch of one if it were.
            respond(id, handler([params])[0])
        case .concurrent(let handler):
            let output = self.output
            Thread.detachConcurrent {
                let line = RPCMessage.response(id: id, outcome: Self.invoke(handler, params, method: method)).line()
                output.writeAll(line)
            }
        }
    }

    private static func invoke(_ handler: (JSONValue) throws -> JSONValue, _ params: JSONValue, method: String)
        -> Result<JSONValue, RPCError>
    {
        do {
            return .success(try handler(params))
        } catch {
            return .failure(rpcError(from: error, method: method))
        }
    }

    static func decode<P: JSONCodable>(_ type: P.Type, _ params: JSONValue) throws -> P {
        do {
            return try P(json: params)
        } catch {
            throw RPCError(.invalidParams, error.message)
        }
    }

    /// Maps what a handler threw to the wire. Only `RPCError`s cross as they are: anything else could carry
    /// details (paths, bound values) the host must not log, so it becomes a generic internal error.
    static func rpcError(from error: any Error, method: String) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        PluginLog.error("handler failed", ["rpc.method": .string(method), "error": .string("\(type(of: error))")])
        return RPCError(.internalError, "internal error in '\(method)'")
    }

    // MARK: - Output

    private func respond(_ id: RPCID?, _ outcome: Result<JSONValue, RPCError>) {
        RPCMessage.response(id: id, outcome: outcome).appendLine(to: &pending)
        if pending.count >= 64 * 1024 { flush() }
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        output.writeAll(pending)
        pending.removeAll(keepingCapacity: true)
    }

    private func printTerminalHint() {
        let hint = """
            \(name) \(version) is a Gatehouse \(role) plugin. It speaks JSON-RPC 2.0, one message per line, \
            on stdin/stdout and is started by the host (`gatehouse serve`), not by hand.
            To talk to it from a terminal anyway, set GATEHOUSE_PLUGIN_INTERACTIVE=1 and type, for example:
            {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersions":[1],"config":{}}}
            The protocol is described in Docs/plugin-protocol.md.

            """
        FileDescriptorWriter(fd: STDERR_FILENO).writeAll(Array(hint.utf8))
    }
}

/// Sends notifications to the host from any thread; lines never interleave with responses.
public struct PluginNotifier: Sendable {
    let output: FileDescriptorWriter

    public func notify<P>(_ notification: Notification<P>, _ params: P) {
        output.writeAll(RPCMessage.notification(method: notification.name, params: params.json).line())
    }
}
