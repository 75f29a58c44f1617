/// The lifecycle methods every plugin implements (Docs/plugin-protocol.md, "Lifecycle").
public enum Lifecycle {
    /// The first request the host sends; nothing else is answered before it succeeds.
    public static let initialize = Method<InitializeParams, InitializeResult>("initialize")
    /// Asks the plugin to finish in-flight work and stop taking requests; answered with `null`.
    public static let shutdown = Method<Empty, Empty>("shutdown")
    /// Tells the plugin to exit now (status 0 after `shutdown`, 1 without).
    public static let exit = Notification<Empty>("exit")
    /// Optional: re-read the plugin's own configuration now (the host sends it to every process when it gets
    /// SIGHUP). An error means the reload failed and the plugin keeps what it had; a plugin without it
    /// answers -32601, which the host logs and ignores.
    public static let reload = Method<Empty, ReloadResult>("reload")
    /// Sent by a plugin: tells the host that cached answers about these clients are stale.
    public static let invalidate = Notification<InvalidateParams>("invalidate")

    /// The protocol versions this build speaks, oldest first.
    public static let supportedVersions: [Int64] = [1]
}

public struct InitializeParams: JSONCodable, Equatable {
    /// Versions the host speaks; the plugin picks one (normally the highest it also speaks).
    public var protocolVersions: [Int64]
    /// The plugin's own configuration, copied verbatim from the host config's `config` member.
    public var config: JSONValue
    /// The host's name and version, for the plugin's logs.
    public var hostName: String
    public var hostVersion: String
    /// The name the deployer gave this plugin in the host config.
    public var pluginName: String

    public init(protocolVersions: [Int64], config: JSONValue, hostName: String, hostVersion: String,
                pluginName: String)
    {
        self.protocolVersions = protocolVersions
        self.config = config
        self.hostName = hostName
        self.hostVersion = hostVersion
        self.pluginName = pluginName
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        guard let versions = reader.members["protocolVersions"]?.arrayValue else {
            throw JSONShapeError("field 'protocolVersions' must be an array of integers")
        }
        var parsed: [Int64] = []
        for version in versions {
            guard let number = version.intValue else {
                throw JSONShapeError("field 'protocolVersions' must be an array of integers")
            }
            parsed.append(number)
        }
        protocolVersions = parsed
        config = reader.members["config"] ?? .object([:])
        let host = reader.members["host"]
        hostName = host?["name"]?.stringValue ?? "unknown"
        hostVersion = host?["version"]?.stringValue ?? "unknown"
        pluginName = reader.members["plugin"]?["name"]?.stringValue ?? ""
    }

    public var json: JSONValue {
        [
            "protocolVersions": .array(protocolVersions.map { .int($0) }),
            "config": config,
            "host": ["name": .string(hostName), "version": .string(hostVersion)],
            "plugin": ["name": .string(pluginName)],
        ]
    }
}

public struct InitializeResult: JSONCodable, Equatable {
    public var name: String
    public var version: String
    public var protocolVersion: Int64
    public var role: PluginRole
    /// The methods the plugin serves, beyond the lifecycle ones.
    public var methods: [String]

    public init(name: String, version: String, protocolVersion: Int64, role: PluginRole, methods: [String]) {
        self.name = name
        self.version = version
        self.protocolVersion = protocolVersion
        self.role = role
        self.methods = methods
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        name = try reader.string("name")
        version = try reader.string("version")
        protocolVersion = try reader.int("protocolVersion")
        role = PluginRole(rawValue: try reader.string("role"))
        methods = try JSONObjectReader(try reader.value("capabilities"), what: "capabilities").strings("methods")
    }

    public var json: JSONValue {
        [
            "name": .string(name), "version": .string(version), "protocolVersion": .int(protocolVersion),
            "role": .string(role.rawValue),
            "capabilities": ["methods": .array(methods.map { .string($0) })],
        ]
    }
}

public struct InvalidateParams: JSONCodable, Equatable {
    /// The clients whose cached answers are stale; empty means every client.
    public var clientIDs: [String]
    public init(clientIDs: [String]) { self.clientIDs = clientIDs }
    public init(json: JSONValue) throws(JSONShapeError) {
        clientIDs = try JSONObjectReader(json, what: "params").optionalStrings("clientIds") ?? []
    }
    public var json: JSONValue { ["clientIds": .array(clientIDs.map { .string($0) })] }
}

/// The answer to `reload`: whether anything changed, and what was re-read (for the host's log).
public struct ReloadResult: JSONCodable, Equatable {
    public var changed: Bool
    public var detail: String

    public init(changed: Bool, detail: String = "") {
        self.changed = changed
        self.detail = detail
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        changed = try reader.optionalBool("changed") ?? false
        detail = try reader.optionalString("detail") ?? ""
    }

    public var json: JSONValue { ["changed": .bool(changed), "detail": .string(detail)] }
}
