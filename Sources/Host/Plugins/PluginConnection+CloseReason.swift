extension PluginConnection {
    /// Why a connection ended; everything but `closedByHost` is reported to the supervisor as a crash.
    enum CloseReason: Sendable, Equatable, CustomStringConvertible {
        case stdoutClosed
        case protocolViolation(String)
        case unresponsive(method: String)
        case closedByHost

        var description: String {
            switch self {
            case .stdoutClosed: return "the plugin closed its stdout"
            case .protocolViolation(let detail): return "protocol violation: \(detail)"
            case .unresponsive(let method): return "the plugin stopped answering ('\(method)' timed out)"
            case .closedByHost: return "closed by the host"
            }
        }
    }
}
