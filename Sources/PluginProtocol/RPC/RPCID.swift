/// A JSON-RPC request id. The host always sends integers; a plugin may meet strings from other callers.
public enum RPCID: Sendable, Hashable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    public init?(json: JSONValue) {
        switch json {
        case .string(let s): self = .string(s)
        default:
            guard let i = json.intValue else { return nil }
            self = .int(i)
        }
    }

    public var json: JSONValue {
        switch self {
        case .int(let i): return .int(i)
        case .string(let s): return .string(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return "\"\(s)\""
        }
    }
}
