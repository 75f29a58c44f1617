/// A JSON-RPC error code, open so that codes sent by third-party plugins still decode.
///
/// Ranges (Docs/plugin-protocol.md, "Error codes"):
/// - -32768...-32000: JSON-RPC 2.0 itself; -32099...-32000 are the lifecycle codes defined here.
/// - 1000...1999: store plugins. 2000...2999: policy plugins. 10000 and up: free for a plugin's own use.
/// An error always means "the plugin could not answer"; decisions such as "unknown client" are results.
public struct RPCErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    // JSON-RPC 2.0 §5.1.
    public static let parseError = RPCErrorCode(rawValue: -32700)
    public static let invalidRequest = RPCErrorCode(rawValue: -32600)
    public static let methodNotFound = RPCErrorCode(rawValue: -32601)
    public static let invalidParams = RPCErrorCode(rawValue: -32602)
    public static let internalError = RPCErrorCode(rawValue: -32603)

    // Lifecycle, in JSON-RPC's implementation-defined server-error range.
    /// A request other than `initialize` arrived before `initialize` succeeded.
    public static let notInitialized = RPCErrorCode(rawValue: -32002)
    /// None of the protocol versions the host offered is one the plugin speaks.
    public static let unsupportedProtocolVersion = RPCErrorCode(rawValue: -32003)
    /// A request arrived after `shutdown`.
    public static let shuttingDown = RPCErrorCode(rawValue: -32004)
    /// The plugin is alive but cannot serve right now (backing store unreachable, overloaded).
    public static let unavailable = RPCErrorCode(rawValue: -32005)

    // Store plugins: 1000...1999.
    /// `create` with a client id that already exists.
    public static let clientExists = RPCErrorCode(rawValue: 1001)
    /// A write or read named a client that does not exist (lookups answer "not found" as a result instead).
    public static let clientNotFound = RPCErrorCode(rawValue: 1002)
    /// An operator-chosen secret too weak to be accepted.
    public static let weakSecret = RPCErrorCode(rawValue: 1003)
    /// A write to a store opened read-only.
    public static let readOnly = RPCErrorCode(rawValue: 1004)
    /// The backing storage failed (I/O error, corrupt database, disk full).
    public static let storageFailure = RPCErrorCode(rawValue: 1005)
    /// A field value the store refuses (bad id syntax, unknown scope syntax, lifetime out of range).
    public static let invalidClient = RPCErrorCode(rawValue: 1006)

    // Policy plugins: 2000...2999.
    /// The policy itself is broken and no decision can be made.
    public static let policyInvalid = RPCErrorCode(rawValue: 2001)

    public var description: String {
        switch self {
        case .parseError: return "parse error (-32700)"
        case .invalidRequest: return "invalid request (-32600)"
        case .methodNotFound: return "method not found (-32601)"
        case .invalidParams: return "invalid params (-32602)"
        case .internalError: return "internal error (-32603)"
        case .notInitialized: return "not initialized (-32002)"
        case .unsupportedProtocolVersion: return "unsupported protocol version (-32003)"
        case .shuttingDown: return "shutting down (-32004)"
        case .unavailable: return "unavailable (-32005)"
        default: return "error \(rawValue)"
        }
    }
}
