import Foundation
import PluginProtocol

/// Everything `gatehouse serve` and the CLI need, from a JSON file, environment overrides and flags,
/// in that order of precedence (flags win). Every key is documented in Docs/configuration.md.
public struct HostConfig: Sendable {
    public var listenHost = "127.0.0.1"
    public var listenPort: UInt16 = 8080
    public var dataDirectory = "./gatehouse-data"
    /// The `iss` of every token and the issuer in discovery; defaults to `http://<listen>`.
    public var issuer: String?
    public var audience = "gatehouse"
    public var defaultTokenLifetime: Int64 = 3600
    public var maxTokenLifetime: Int64 = 86400
    public var logLevel = Logger.Level.info
    /// One JSON line per request on stderr (never with the query string).
    public var accessLog = true
    public var http = HTTPLimits()
    public var rateLimits = RateLimits()
    /// Peers whose forwarded headers `/api/v1/auth/verify` believes (reverse proxies doing forward auth).
    public var trustedProxies = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
    public var store: PluginSpec
    public var policy: PluginSpec

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// The zero-config default: sqlite-store in the data directory, scope-rbac with its built-in policy.
    public init() {
        store = PluginSpec(name: "store", role: .store, command: "gatehouse-sqlite-store")
        policy = PluginSpec(name: "policy", role: .policy, command: "gatehouse-scope-rbac")
    }

    public var effectiveIssuer: String { issuer ?? "http://\(listenHost):\(listenPort)" }

    /// Loads the file at `path` (if any), then applies `GATEHOUSE_*` environment overrides.
    public static func load(path: String?, environment: [String: String]) throws(Error) -> HostConfig {
        var config = HostConfig()
        if let path {
            let contents: Data
            do {
                contents = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw Error(description: "cannot read config \(path): \(error.localizedDescription)")
            }
            let json: JSONValue
            do {
                json = try JSONParser.parse(Array(contents))
            } catch {
                throw Error(description: "config \(path) is not valid JSON: \(error)")
            }
            do {
                try config.apply(json)
            } catch {
                throw Error(description: "config \(path): \(error.message)")
            }
        }
        if let listen = environment["GATEHOUSE_LISTEN"] { try config.setListen(listen) }
        if let data = environment["GATEHOUSE_DATA_DIR"] { config.dataDirectory = data }
        if let level = environment["GATEHOUSE_LOG_LEVEL"] {
            guard let parsed = Logger.Level(name: level) else {
                throw Error(description: "GATEHOUSE_LOG_LEVEL must be debug, info, warning or error")
            }
            config.logLevel = parsed
        }
        if let issuer = environment["GATEHOUSE_ISSUER"] { config.issuer = issuer }
        return config
    }

    public mutating func setListen(_ text: String) throws(Error) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw Error(description: "listen address '\(text)' must be HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        listenHost = host.isEmpty ? "0.0.0.0" : host
        listenPort = port
    }

    private mutating func apply(_ json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "config")
        let known: Set<String> = ["listen", "data_dir", "issuer", "audience", "token", "log_level", "access_log", "http", "plugins",
                                   "trusted_proxies", "rate_limit"]
        if let unknown = reader.members.keys.first(where: { !known.contains($0) }) {
            throw JSONShapeError("unknown key '\(unknown)'")
        }
        if let listen = try reader.optionalString("listen") {
            do { try setListen(listen) } catch { throw JSONShapeError(error.description) }
        }
        dataDirectory = try reader.optionalString("data_dir") ?? dataDirectory
        accessLog = try reader.optionalBool("access_log") ?? accessLog
        issuer = try reader.optionalString("issuer") ?? issuer
        audience = try reader.optionalString("audience") ?? audience
        if let level = try reader.optionalString("log_level") {
            guard let parsed = Logger.Level(name: level) else {
                throw JSONShapeError("log_level must be debug, info, warning or error")
            }
            logLevel = parsed
        }
        if let token = reader.members["token"] {
            let tokenReader = try JSONObjectReader(token, what: "token")
            defaultTokenLifetime = try tokenReader.optionalInt("default_lifetime_seconds") ?? defaultTokenLifetime
            maxTokenLifetime = try tokenReader.optionalInt("max_lifetime_seconds") ?? maxTokenLifetime
            guard (1...31_536_000).contains(maxTokenLifetime), (1...maxTokenLifetime).contains(defaultTokenLifetime)
            else { throw JSONShapeError("token lifetimes must be 1 s to 1 year, default <= max") }
        }
        if let limits = reader.members["http"] { http = try HTTPLimits(json: limits) }
        if let limits = reader.members["rate_limit"] { rateLimits = try RateLimits(json: limits) }
        if let proxies = try reader.optionalStrings("trusted_proxies") {
            trustedProxies = try proxies.map { text throws(JSONShapeError) in
                guard let network = IPNetwork(text) else { throw JSONShapeError("trusted_proxies: '\(text)' is not an address or CIDR network") }
                return network
            }
        }
        if let plugins = reader.members["plugins"] {
            let pluginReader = try JSONObjectReader(plugins, what: "plugins")
            if let entry = pluginReader.members["store"] { store = try PluginSpec(name: "store", role: .store, json: entry) }
            if let entry = pluginReader.members["policy"] {
                policy = try PluginSpec(name: "policy", role: .policy, json: entry)
            }
            if let unknown = pluginReader.members.keys.first(where: { $0 != "store" && $0 != "policy" }) {
                throw JSONShapeError("unknown plugin slot '\(unknown)' (expected store, policy)")
            }
        }
    }

    /// Fills in what the zero-config plugins need from the data directory, unless the config set it.
    public mutating func resolvePluginDefaults() {
        let absoluteData = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        if store.command == "gatehouse-sqlite-store", store.config["path"] == nil {
            store.config = Self.merging(store.config, ["path": .string(absoluteData + "/gatehouse.sqlite3")])
        }
        if store.command == "gatehouse-file-store", store.config["path"] == nil {
            store.config = Self.merging(store.config, ["path": .string(absoluteData + "/clients.json")])
        }
    }

    private static func merging(_ base: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        var members = base.objectValue ?? [:]
        members.merge(extra) { _, new in new }
        return .object(members)
    }
}

/// Failed-authentication limits (Docs/configuration.md, `rate_limit`).
public struct RateLimits: Sendable {
    /// Per client id: 10 failures at once, then one more every 2 seconds.
    public var perClient = FailureRateLimiter.Limits(burst: 10, refillPerSecond: 0.5)
    /// Per source address: 30 failures at once, then one a second.
    public var perAddress = FailureRateLimiter.Limits(burst: 30, refillPerSecond: 1)

    public init() {}

    init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "rate_limit")
        perClient = try Self.limits(reader, "per_client", default: perClient)
        perAddress = try Self.limits(reader, "per_address", default: perAddress)
    }

    private static func limits(_ reader: JSONObjectReader, _ key: String, default value: FailureRateLimiter.Limits)
        throws(JSONShapeError) -> FailureRateLimiter.Limits
    {
        guard let entry = reader.members[key] else { return value }
        let limits = try JSONObjectReader(entry, what: "rate_limit.\(key)")
        let burst = try limits.optionalInt("burst") ?? Int64(value.burst)
        let perMinute = try limits.optionalInt("per_minute") ?? Int64(value.refillPerSecond * 60)
        guard burst >= 0, perMinute >= 0 else { throw JSONShapeError("rate_limit.\(key): burst and per_minute must not be negative") }
        return FailureRateLimiter.Limits(burst: Double(burst), refillPerSecond: Double(perMinute) / 60)
    }
}
