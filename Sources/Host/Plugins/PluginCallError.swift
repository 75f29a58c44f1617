import PluginProtocol

/// Why a call to a plugin produced no answer. Every case means "fail closed": no token, no access.
public enum PluginCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No process of the plugin is ready (starting, backing off after crashes, given up, or stopped).
    case unavailable(plugin: String, reason: String)
    /// The plugin did not answer within the call's timeout.
    case timedOut(plugin: String, method: String, after: Duration)
    /// The process died, closed stdout or broke the protocol while the call was in flight.
    case connectionLost(plugin: String, reason: String)
    /// Too many bytes are queued for a plugin that is not reading its stdin.
    case overloaded(plugin: String)
    /// The plugin answered with a JSON-RPC error.
    case remote(plugin: String, error: RPCError)
    /// The plugin answered with a result of the wrong shape.
    case invalidResult(plugin: String, method: String, detail: String)

    public var plugin: String {
        switch self {
        case .unavailable(let plugin, _), .timedOut(let plugin, _, _), .connectionLost(let plugin, _),
            .overloaded(let plugin), .remote(let plugin, _), .invalidResult(let plugin, _, _):
            return plugin
        }
    }

    /// A short, stable label for metrics (`outcome="timeout"`).
    public var outcome: String {
        switch self {
        case .unavailable: return "unavailable"
        case .timedOut: return "timeout"
        case .connectionLost: return "connection_lost"
        case .overloaded: return "overloaded"
        case .remote: return "error"
        case .invalidResult: return "invalid_result"
        }
    }

    public var description: String {
        switch self {
        case .unavailable(let plugin, let reason): return "plugin '\(plugin)' is unavailable: \(reason)"
        case .timedOut(let plugin, let method, let after):
            return "plugin '\(plugin)' did not answer '\(method)' within \(after.milliseconds) ms"
        case .connectionLost(let plugin, let reason): return "lost plugin '\(plugin)' mid-call: \(reason)"
        case .overloaded(let plugin): return "plugin '\(plugin)' is not reading its input"
        case .remote(let plugin, let error): return "plugin '\(plugin)' failed: \(error)"
        case .invalidResult(let plugin, let method, let detail):
            return "plugin '\(plugin)' answered '\(method)' with an invalid result: \(detail)"
        }
    }
}
