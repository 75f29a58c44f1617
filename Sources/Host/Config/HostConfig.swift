import Foundation
import Glibc
import JOSE
import JSON

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
    /// `token.signing_algorithm`: RS256 (RFC 9068 §2.1), ES256, EdDSA, or HS256 for a single host.
    public var signingAlgorithm = SignatureAlgorithm.rs256
    /// `token.key_rotation_days`: the active signing key is replaced after this many days; 0 turns it off.
    public var keyRotationDays: Int64 = 30
    public var logLevel = Logger.Level.info
    /// One JSON line per request on stderr (never with the query string).
    public var accessLog = true
    public var http = HTTPLimits()
    public var rateLimits = RateLimits()
    /// Peers whose `X-Forwarded-For` / `Forwarded` name the client's address (reverse proxies): for the failure
    /// limits of the token endpoints and for forward auth, which only they may use.
    public var trustedProxies = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
    /// `client_assertions.max_lifetime_seconds` and `.clock_skew_seconds` (HostConfig+Assertions.swift).
    public var assertionMaxLifetime: Int64 = 3600
    public var assertionClockSkew: Int64 = 30
    /// `client_assertions.jwks_min_cache_seconds` and `.jwks_refresh_interval_seconds` (keys at a `jwksUri`).
    public var jwksMinCache: Int64 = 60
    public var jwksRefreshInterval: Int64 = 10
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

    /// The signing-key lifecycle this config asks for (`SigningKeyRing+Lifecycle.swift`).
    public var keyPolicy: SigningKeyRing.Policy {
        SigningKeyRing.Policy(algorithm: signingAlgorithm, maxTokenLifetime: maxTokenLifetime,
                              rotationPeriod: keyRotationDays > 0 ? keyRotationDays * 86_400 : nil)
    }

    public var effectiveIssuer: String { issuer ?? "http://\(Self.authority(listenHost, listenPort))" }

    /// `host:port`, with an IPv6 address in brackets (RFC 3986 §3.2.2): `[::1]:8080`, never `::1:8080`.
    public static func authority(_ host: String, _ port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Loads the file at `path` (if any), then applies `GATEHOUSE_*` environment overrides.
    public static func load(path: String?, environment: [String: String]) throws(Error) -> HostConfig {
        var config = HostConfig()
        if let path {
            let json = try readJSON(path)
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

    /// Reads the config file, with errors an operator can act on: the path when it cannot be read, the line
    /// and column when it is not JSON.
    private static func readJSON(_ path: String) throws(Error) -> JSONValue {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            // Foundation's message ("The operation could not be completed") says nothing; errno does.
            var info = stat()
            let reason: String
            if stat(path, &info) != 0 {
                reason = String(cString: strerror(errno))
            } else if info.st_mode & S_IFMT == S_IFDIR {
                reason = "it is a directory"
            } else {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                reason = fd < 0 ? String(cString: strerror(errno)) : "read failed"
                if fd >= 0 { close(fd) }
            }
            throw Error(description: "cannot read config file \(path): \(reason)")
        }
        let bytes = Array(contents)
        do {
            return try JSONParser.parse(bytes)
        } catch {
            let (line, column) = Self.position(of: error.offset, in: bytes)
            throw Error(description: "config \(path) is not valid JSON: \(error.message) at line \(line), column \(column)")
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        for index in 0..<min(offset, bytes.count) where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        let prefix = bytes[lineStart..<min(max(offset, lineStart), bytes.count)]
        return (line, String(decoding: prefix, as: UTF8.self).count + 1)
    }

    /// Every key is declared where it is read (`ConfigReader`), and `finish()` refuses the rest, at every level.
    private mutating func apply(_ json: JSONValue) throws(JSONShapeError) {
        let reader = try ConfigReader(json)
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
        if let tokenReader = try reader.object("token") {
            defaultTokenLifetime = try tokenReader.optionalInt("default_lifetime_seconds") ?? defaultTokenLifetime
            maxTokenLifetime = try tokenReader.optionalInt("max_lifetime_seconds") ?? maxTokenLifetime
            guard (1...31_536_000).contains(maxTokenLifetime), (1...maxTokenLifetime).contains(defaultTokenLifetime)
            else { throw JSONShapeError("token lifetimes must be 1 s to 1 year, default <= max") }
            if let name = try tokenReader.optionalString("signing_algorithm") {
                guard let algorithm = SignatureAlgorithm(rawValue: name) else {
                    throw JSONShapeError("token.signing_algorithm must be RS256, ES256, EdDSA or HS256")
                }
                signingAlgorithm = algorithm
            }
            keyRotationDays = try tokenReader.optionalInt("key_rotation_days") ?? keyRotationDays
            guard (0...3650).contains(keyRotationDays) else { throw JSONShapeError("token.key_rotation_days must be 0 to 3650") }
        }
        if let limits = try reader.object("http") { http = try HTTPLimits(config: limits) }
        if let limits = try reader.object("rate_limit") { rateLimits = try RateLimits(config: limits) }
        if let assertions = try reader.object("client_assertions") { try applyAssertions(assertions) }
        if let proxies = try reader.optionalStrings("trusted_proxies") {
            trustedProxies = try proxies.map { text throws(JSONShapeError) in
                guard let network = IPNetwork(text) else { throw JSONShapeError("trusted_proxies: '\(text)' is not an address or CIDR network") }
                return network
            }
        }
        if let plugins = try reader.object("plugins") {
            if let entry = try plugins.object("store") { store = try PluginSpec(name: "store", role: .store, config: entry) }
            if let entry = try plugins.object("policy") { policy = try PluginSpec(name: "policy", role: .policy, config: entry) }
        }
        try reader.finish()
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
        members.merge(extra)
        return .object(members)
    }
}

/// Failed-authentication limits (Docs/configuration.md, `rate_limit`).
public struct RateLimits: Sendable {
    /// Per client id from one address: 10 failures at once, then one more every 2 seconds.
    public var perClient = FailureRateLimiter.Limits(burst: 10, refillPerSecond: 0.5)
    /// Per client id from all addresses together: 100 at once, then one a second. Past it only addresses the
    /// client authenticated from in the last day are let through.
    public var perClientTotal = FailureRateLimiter.Limits(burst: 100, refillPerSecond: 1)
    /// Per source address: 30 failures at once, then one a second.
    public var perAddress = FailureRateLimiter.Limits(burst: 30, refillPerSecond: 1)

    public init() {}

    init(config reader: ConfigReader) throws(JSONShapeError) {
        perClient = try Self.limits(reader, "per_client", default: perClient)
        perClientTotal = try Self.limits(reader, "per_client_total", default: perClientTotal)
        perAddress = try Self.limits(reader, "per_address", default: perAddress)
    }

    private static func limits(_ reader: ConfigReader, _ key: String, default value: FailureRateLimiter.Limits)
        throws(JSONShapeError) -> FailureRateLimiter.Limits
    {
        guard let limits = try reader.object(key) else { return value }
        let burst = try limits.optionalInt("burst") ?? Int64(value.burst)
        let perMinute = try limits.optionalInt("per_minute") ?? Int64(value.refillPerSecond * 60)
        guard burst >= 0, perMinute >= 0 else { throw JSONShapeError("rate_limit.\(key): burst and per_minute must not be negative") }
        return FailureRateLimiter.Limits(burst: Double(burst), refillPerSecond: Double(perMinute) / 60)
    }
}
