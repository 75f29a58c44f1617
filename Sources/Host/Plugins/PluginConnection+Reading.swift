import Glibc
import PluginProtocol

/// The reader thread's side of `PluginConnection`: frames the plugin's stdout into lines (bounded by
/// `maxLineLength`), completes calls by id, passes notifications on, and closes the connection on the first
/// line that breaks the protocol or at end of file.
extension PluginConnection {
    func readResponses() {
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
            send(answer.line())
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
}
