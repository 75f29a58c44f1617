/// A protocol method: its wire name and the Swift types of its params and result.
///
/// Host and plugins share these descriptors, so a method's name and shapes are written down exactly once.
public struct Method<Params: JSONCodable, Result: JSONCodable>: Sendable {
    public let name: String
    public init(_ name: String) { self.name = name }
}

/// A notification: a method that is sent without an id and never answered.
public struct Notification<Params: JSONCodable>: Sendable {
    public let name: String
    public init(_ name: String) { self.name = name }
}

/// What a plugin is for. Open, so that a host can list roles it does not know yet without failing.
public struct PluginRole: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Owns clients and the facts shared between hosts (Docs/plugin-protocol.md, "Store methods").
    public static let store = PluginRole(rawValue: "store")
    /// Decides which scopes a client may be granted and which requests a token allows.
    public static let policy = PluginRole(rawValue: "policy")

    public var description: String { rawValue }
}
