import PluginProtocol

/// A compiled scope-rbac policy (Docs/policy.md describes the file).
///
/// ```json
/// {
///   "version": 1,
///   "defaultRole": "default",
///   "roles": {"default": {"scopes": ["*"]}, "scraper": {"scopes": ["metrics"]}},
///   "resources": [
///     {"name": "metrics", "methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"]},
///     {"name": "reports", "path": "/api/v1/reports/**", "read": ["reports:read"], "write": ["reports:write"]}
///   ],
///   "cacheTtlMs": 1000
/// }
/// ```
struct PolicyDocument: Sendable {
    struct Role: Sendable {
        let name: String
        let scopes: [ScopePattern]
    }

    struct Resource: Sendable {
        let name: String
        /// Upper-case methods; empty means any method.
        let methods: Set<String>
        let path: PathPattern
        /// Required for every method (any one of them suffices).
        let scopes: [String]
        /// Required for GET, HEAD and OPTIONS, in addition to `scopes` alternatives.
        let read: [String]
        /// Required for every other method.
        let write: [String]

        func required(for method: String) -> [String] {
            scopes + (["GET", "HEAD", "OPTIONS"].contains(method) ? read : write)
        }
    }

    let roles: [String: Role]
    let defaultRole: String?
    let resources: [Resource]
    let cacheTTLMilliseconds: Int64

    /// The built-in policy of the zero-config default: any role may hold any scope its client is allowed,
    /// and scope `metrics` allows `GET /api/v1/metrics`. Everything else is denied.
    static let builtIn: PolicyDocument = {
        // The literal below is fixed and valid; a failure here is a programming error caught by every test run.
        let text = #"{"version":1,"defaultRole":"default","roles":{"default":{"scopes":["*"]}},"resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":["metrics"]}],"cacheTtlMs":1000}"#
        guard let policy = try? PolicyDocument(text: Array(text.utf8)) else { preconditionFailure("built-in policy is invalid") }
        return policy
    }()

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(text: [UInt8]) throws(Invalid) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text)
        } catch {
            var line = 1
            var column = 1
            for byte in text.prefix(error.offset) {
                if byte == 0x0A { line += 1; column = 1 } else { column += 1 }
            }
            throw Invalid(description: "line \(line), column \(column): \(error.message)")
        }
        do {
            try self.init(json: json)
        } catch {
            throw Invalid(description: error.message)
        }
    }

    init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "policy")
        let known: Set<String> = ["version", "defaultRole", "roles", "resources", "cacheTtlMs", "$comment"]
        if let unknown = reader.members.keys.sorted().first(where: { !known.contains($0) }) {
            throw JSONShapeError("unknown field '\(unknown)'")
        }
        guard (try reader.optionalInt("version") ?? 1) == 1 else { throw JSONShapeError("version: only 1 is supported") }
        var roles: [String: Role] = [:]
        guard let roleObject = reader.members["roles"]?.objectValue else { throw JSONShapeError("roles: must be an object") }
        for (name, entry) in roleObject {
            let roleReader = try JSONObjectReader(entry, what: "roles.\(name)")
            let patterns = try Self.patterns(roleReader.optionalStrings("scopes") ?? [], at: "roles.\(name).scopes")
            roles[name] = Role(name: name, scopes: patterns)
        }
        let defaultRole = try reader.optionalString("defaultRole")
        if let defaultRole, roles[defaultRole] == nil {
            throw JSONShapeError("defaultRole: role '\(defaultRole)' is not defined in roles")
        }
        var resources: [Resource] = []
        for (index, entry) in (reader.members["resources"]?.arrayValue ?? []).enumerated() {
            let at = "resources[\(index)]"
            let item = try JSONObjectReader(entry, what: at)
            let name = try item.optionalString("name") ?? "resource \(index)"
            let pathText = try item.string("path")
            guard let path = PathPattern(pathText) else {
                throw JSONShapeError("\(at).path: '\(pathText)' must start with / and use * for one segment or a final ** for the rest")
            }
            let methods = Set((try item.optionalStrings("methods") ?? []).map { $0.uppercased() })
            let scopes = try Self.scopes(item.optionalStrings("scopes") ?? [], at: "\(at).scopes")
            let read = try Self.scopes(item.optionalStrings("read") ?? [], at: "\(at).read")
            let write = try Self.scopes(item.optionalStrings("write") ?? [], at: "\(at).write")
            guard !(scopes.isEmpty && read.isEmpty && write.isEmpty) else {
                throw JSONShapeError("\(at): needs scopes, or read and write scopes (deny by default has no empty resources)")
            }
            resources.append(Resource(name: name, methods: methods, path: path, scopes: scopes, read: read, write: write))
        }
        let ttl = try reader.optionalInt("cacheTtlMs") ?? 1000
        guard (0...300_000).contains(ttl) else { throw JSONShapeError("cacheTtlMs: must be 0 to 300000") }
        self.roles = roles
        self.defaultRole = defaultRole
        self.resources = resources
        self.cacheTTLMilliseconds = ttl
    }

    private static func patterns(_ texts: [String], at path: String) throws(JSONShapeError) -> [ScopePattern] {
        var patterns: [ScopePattern] = []
        for text in texts {
            guard let pattern = ScopePattern(text) else {
                throw JSONShapeError("\(path): '\(text)' is not a scope or scope pattern (a trailing * is the only wildcard)")
            }
            patterns.append(pattern)
        }
        return patterns
    }

    private static func scopes(_ texts: [String], at path: String) throws(JSONShapeError) -> [String] {
        if let bad = texts.first(where: { !Scope.isValid($0) || $0.contains("*") }) {
            throw JSONShapeError("\(path): '\(bad)' is not a scope")
        }
        return texts
    }
}
