import PluginProtocol

/// How to run one plugin: the command, its environment and config, and how to supervise it.
/// Read from an entry of the host config's `plugins` object (Docs/configuration.md).
public struct PluginSpec: Sendable {
    /// The name the deployer gave the plugin (`store`, `policy`); used in logs, metrics and errors.
    public var name: String
    /// The role the host needs from it; a plugin that declares another role is refused at handshake.
    public var role: PluginRole?
    /// An absolute or relative path, or a bare name searched beside the `gatehouse` executable, then in PATH.
    public var command: String
    public var arguments: [String] = []
    /// Added to (or replacing in) the host's environment.
    public var environment: [String: String] = [:]
    /// Passed verbatim as `config` in `initialize`.
    public var config: JSONValue = .object([:])
    /// How many processes to run; calls go to the ready one with the fewest calls in flight.
    public var poolSize = 1
    public var callTimeout: Duration = .seconds(5)
    public var startTimeout: Duration = .seconds(10)
    /// How long a plugin may take to exit after `shutdown`/`exit` before SIGTERM, and again before SIGKILL.
    public var shutdownGrace: Duration = .seconds(2)
    public var restart = RestartPolicy()
    /// The longest protocol line accepted from the plugin.
    public var maxLineLength = LineFramer.defaultMaxLineLength
    /// Made before a process counts as ready and then periodically (`HealthProbe.standard(for:)` by role).
    public var healthProbe: HealthProbe?

    public init(name: String, role: PluginRole? = nil, command: String) {
        self.name = name
        self.role = role
        self.command = command
        healthProbe = HealthProbe.standard(for: role)
    }
}

/// When to restart a plugin that died, and when to stop trying.
public struct RestartPolicy: Sendable, Equatable {
    /// Delay before the first restart; doubled after each consecutive failure, up to `maxBackoff`.
    public var initialBackoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(10)
    /// `maxCrashes` failures within `window` mark the plugin failed (unhealthy) ...
    public var maxCrashes = 5
    public var window: Duration = .seconds(60)
    /// ... after which one more start is tried only after this cooldown.
    public var cooldown: Duration = .seconds(60)
    /// A process that stayed ready this long resets the backoff.
    public var stableAfter: Duration = .seconds(10)

    public init() {}
}

extension PluginSpec {
    /// The command a slot runs when its config entry names none (Docs/configuration.md).
    public static func defaultCommand(for role: PluginRole?) -> String? {
        switch role {
        case .some(.store): return "gatehouse-sqlite-store"
        case .some(.policy): return "gatehouse-scope-rbac"
        default: return nil
        }
    }

    /// Reads a config entry such as
    /// `{"command": "gatehouse-sqlite-store", "args": [], "env": {}, "config": {}, "pool": 1,
    ///   "call_timeout_ms": 5000, "start_timeout_ms": 10000}`; unknown keys are refused by the caller's
    /// `finish()`. The plugin's own `config` is passed on verbatim: the plugin refuses its unknown keys.
    public init(name: String, role: PluginRole?, config reader: ConfigReader) throws(JSONShapeError) {
        guard let command = try reader.optionalString("command") ?? Self.defaultCommand(for: role) else {
            throw JSONShapeError("'\(reader.name("command"))' is required")
        }
        guard !command.isEmpty else { throw JSONShapeError("'\(reader.name("command"))' must not be empty") }
        self.init(name: name, role: role, command: command)
        arguments = try reader.optionalStrings("args") ?? []
        if let env = try reader.object("env") {
            for key in env.members.keys.sorted() {
                env.accept(key)
                guard let text = try env.optionalString(key) else { throw JSONShapeError("'\(env.name(key))' must be a string") }
                environment[key] = text
            }
        }
        if let value = reader.value("config"), !value.isNull {
            guard value.objectValue != nil else { throw JSONShapeError("'\(reader.name("config"))' must be an object, got \(value.typeName)") }
            config = value
        }
        if let pool = try reader.optionalInt("pool", in: 1...64) { poolSize = Int(pool) }
        callTimeout = try Self.milliseconds(reader, "call_timeout_ms", default: callTimeout)
        startTimeout = try Self.milliseconds(reader, "start_timeout_ms", default: startTimeout)
        shutdownGrace = try Self.milliseconds(reader, "shutdown_grace_ms", default: shutdownGrace)
        if let max = try reader.optionalInt("max_line_bytes", in: 1024...(64 << 20)) { maxLineLength = Int(max) }
        try readHealthProbe(reader)
    }

    /// `health_probe_ms` (how often a ready store is probed) and `health_probe_timeout_ms` (its deadline):
    /// at least 100 ms, or the probe itself becomes load; at most 10 min and 1 min, or readiness says little.
    /// Refused on a slot without a probe (policies), where it would silently do nothing.
    private mutating func readHealthProbe(_ reader: ConfigReader) throws(JSONShapeError) {
        let interval = try reader.optionalInt("health_probe_ms", in: 100...600_000)
        let timeout = try reader.optionalInt("health_probe_timeout_ms", in: 100...60_000)
        guard interval != nil || timeout != nil else { return }
        guard healthProbe != nil else {
            let key = reader.name(interval != nil ? "health_probe_ms" : "health_probe_timeout_ms")
            throw JSONShapeError("'\(key)': only a store has a health probe")
        }
        if let interval { healthProbe?.interval = .milliseconds(interval) }
        if let timeout { healthProbe?.timeout = .milliseconds(timeout) }
    }

    /// Reads a standalone entry (tests, tools): the same as above, refusing unknown keys.
    public init(name: String, role: PluginRole?, json: JSONValue) throws(JSONShapeError) {
        let reader = try ConfigReader(json, path: "plugins.\(name)")
        try self.init(name: name, role: role, config: reader)
        try reader.finish()
    }

    private static func milliseconds(_ reader: ConfigReader, _ key: String, default value: Duration)
        throws(JSONShapeError) -> Duration
    {
        guard let ms = try reader.optionalInt(key, in: 1...3_600_000) else { return value }
        return .milliseconds(ms)
    }
}
