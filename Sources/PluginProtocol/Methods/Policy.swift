/// The methods of a policy plugin (Docs/plugin-protocol.md, "Policy methods").
///
/// A refusal is a result with a reason people can read; an error means the policy could not decide, and
/// the host then refuses (fails closed).
public enum Policy {
    public static let grant = Method<GrantParams, GrantResult>("policy.grant")
    public static let authorize = Method<AuthorizeParams, AuthorizeResult>("policy.authorize")

    public static let allMethods = [grant.name, authorize.name]
}

/// Who is asking, as the policy sees it.
public struct PolicySubject: JSONCodable, Equatable, Hashable {
    public var clientID: String
    public var role: String
    public var allowedScopes: [String]
    public var defaultScopes: [String]

    public init(clientID: String, role: String, allowedScopes: [String] = [], defaultScopes: [String] = []) {
        self.clientID = clientID
        self.role = role
        self.allowedScopes = allowedScopes
        self.defaultScopes = defaultScopes
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "client")
        clientID = try reader.string("id")
        role = try reader.optionalString("role") ?? ""
        allowedScopes = try reader.optionalStrings("allowedScopes") ?? []
        defaultScopes = try reader.optionalStrings("defaultScopes") ?? []
    }

    public var json: JSONValue {
        ["id": .string(clientID), "role": .string(role), "allowedScopes": .array(allowedScopes.map { .string($0) }),
         "defaultScopes": .array(defaultScopes.map { .string($0) })]
    }
}

public struct GrantParams: JSONCodable, Equatable, Hashable {
    public var client: PolicySubject
    /// The `scope` of the token request split on spaces; nil when the request named none.
    public var requestedScopes: [String]?

    public init(client: PolicySubject, requestedScopes: [String]?) {
        self.client = client
        self.requestedScopes = requestedScopes
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        client = try reader.decode("client")
        requestedScopes = try reader.optionalStrings("requestedScopes")
    }

    public var json: JSONValue {
        ["client": client.json, "requestedScopes": requestedScopes.map { .array($0.map { .string($0) }) } ?? .null]
    }
}

public struct GrantResult: JSONCodable, Equatable {
    public var granted: Bool
    /// The scopes the token carries (may be fewer than requested, RFC 6749 §3.3).
    public var scopes: [String]
    public var reason: String
    /// How long the host may reuse this answer for the same client (id, role, allowed and default scopes)
    /// and requested scopes; 0: do not cache.
    public var cacheTTLMilliseconds: Int64

    public init(granted: Bool, scopes: [String], reason: String, cacheTTLMilliseconds: Int64 = 0) {
        self.granted = granted
        self.scopes = scopes
        self.reason = reason
        self.cacheTTLMilliseconds = cacheTTLMilliseconds
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        granted = try reader.bool("granted")
        scopes = try reader.optionalStrings("scopes") ?? []
        try AnswerRules.check(scopes: scopes, "scopes")
        reason = try reader.optionalString("reason") ?? ""
        cacheTTLMilliseconds = max(0, try reader.optionalInt("cacheTtlMs") ?? 0)
    }

    public var json: JSONValue {
        ["granted": .bool(granted), "scopes": .array(scopes.map { .string($0) }), "reason": .string(reason),
         "cacheTtlMs": .int(cacheTTLMilliseconds)]
    }
}

public struct AuthorizeParams: JSONCodable, Equatable, Hashable {
    public struct Request: Sendable, Equatable, Hashable {
        public var method: String
        /// The path as received, percent-encoded, without the query.
        public var path: String
        /// For forwarded requests (forward auth): the original host.
        public var host: String?
        /// The address the request came from (the peer, or the original client behind a trusted proxy).
        public var remoteAddress: String?

        public init(method: String, path: String, host: String? = nil, remoteAddress: String? = nil) {
            self.method = method
            self.path = path
            self.host = host
            self.remoteAddress = remoteAddress
        }
    }

    public var clientID: String
    public var role: String
    public var scopes: [String]
    public var request: Request

    public init(clientID: String, role: String, scopes: [String], request: Request) {
        self.clientID = clientID
        self.role = role
        self.scopes = scopes
        self.request = request
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        let client = try JSONObjectReader(try reader.value("client"), what: "client")
        clientID = try client.string("id")
        role = try client.optionalString("role") ?? ""
        scopes = try reader.strings("scopes")
        let request = try JSONObjectReader(try reader.value("request"), what: "request")
        self.request = Request(method: try request.string("method"), path: try request.string("path"),
                               host: try request.optionalString("host"), remoteAddress: try request.optionalString("remoteAddress"))
    }

    public var json: JSONValue {
        var request: JSONObject = ["method": .string(self.request.method), "path": .string(self.request.path)]
        if let host = self.request.host { request["host"] = .string(host) }
        if let address = self.request.remoteAddress { request["remoteAddress"] = .string(address) }
        return ["client": ["id": .string(clientID), "role": .string(role)], "scopes": .array(scopes.map { .string($0) }),
                "request": .object(request)]
    }
}

public struct AuthorizeResult: JSONCodable, Equatable {
    public var allowed: Bool
    public var reason: String
    /// When denied: scopes that would have allowed the request (for `WWW-Authenticate: … scope="…"`).
    public var requiredScopes: [String]
    /// How long the host may reuse this answer for the same client, scopes and request; 0: do not cache.
    public var cacheTTLMilliseconds: Int64

    public init(allowed: Bool, reason: String, requiredScopes: [String] = [], cacheTTLMilliseconds: Int64 = 0) {
        self.allowed = allowed
        self.reason = reason
        self.requiredScopes = requiredScopes
        self.cacheTTLMilliseconds = cacheTTLMilliseconds
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        allowed = try reader.bool("allowed")
        reason = try reader.optionalString("reason") ?? ""
        // They go into `WWW-Authenticate: … scope="…"` (RFC 6750 §3): scope tokens have no quote to escape.
        requiredScopes = try reader.optionalStrings("requiredScopes") ?? []
        try AnswerRules.check(scopes: requiredScopes, "requiredScopes")
        cacheTTLMilliseconds = max(0, try reader.optionalInt("cacheTtlMs") ?? 0)
    }

    public var json: JSONValue {
        ["allowed": .bool(allowed), "reason": .string(reason), "requiredScopes": .array(requiredScopes.map { .string($0) }),
         "cacheTtlMs": .int(cacheTTLMilliseconds)]
    }
}
