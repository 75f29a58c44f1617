/// A client as stores hold it and the host sees it. Never carries a secret or a secret verifier.
public struct ClientRecord: JSONCodable, Equatable {
    /// Readable and URL-safe: `[A-Za-z0-9][A-Za-z0-9._~-]{0,127}` (see `ClientID.isValid`).
    public var id: String
    public var name: String
    /// What the policy plugin keys its rules on (`scraper`, `service`, …); free text to the store.
    public var role: String
    /// Scopes the client may be granted.
    public var allowedScopes: [String]
    /// Scopes granted when a token request names none (RFC 6749 §3.3).
    public var defaultScopes: [String]
    /// Seconds; nil means the host's default. The host caps it at its maximum.
    public var tokenLifetime: Int64?
    public var enabled: Bool
    /// Unix seconds.
    public var createdAt: Int64
    public var updatedAt: Int64
    public var lastUsedAt: Int64?
    /// Tokens issued before this Unix second are void (set on disable, secret compromise, "log out everywhere").
    public var notBefore: Int64?
    /// Metadata of the secrets that currently verify: never the secrets or their hashes.
    public var secrets: [SecretInfo]
    /// Set by the store when it creates the client and never changed: random, so a client removed and created
    /// again under the same id is a different instance, and the tokens of the first one stay void (the host
    /// puts it in every token as `client_instance`). Nil for clients of stores that do not keep it.
    public var instance: String?
    /// Public keys for `private_key_jwt` and the JWT-bearer grant (`ClientKeys`); omitted from JSON when
    /// empty, so stores that do not keep keys see the records they always saw.
    public var publicKeys: [PublicKeyInfo]
    /// Where the client publishes its public keys as a JWK Set (OIDC Dynamic Client Registration §2
    /// `jwks_uri`), instead of registered `publicKeys`, never as well as them (`JWKSetURL` says which URLs
    /// may be). Omitted from JSON when nil, like `publicKeys`.
    public var jwksURI: String?

    public init(id: String, name: String, role: String, allowedScopes: [String], defaultScopes: [String],
                tokenLifetime: Int64?, enabled: Bool, createdAt: Int64, updatedAt: Int64, lastUsedAt: Int64? = nil,
                notBefore: Int64? = nil, secrets: [SecretInfo] = [], instance: String? = nil,
                publicKeys: [PublicKeyInfo] = [], jwksURI: String? = nil)
    {
        self.id = id
        self.name = name
        self.role = role
        self.allowedScopes = allowedScopes
        self.defaultScopes = defaultScopes
        self.tokenLifetime = tokenLifetime
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastUsedAt = lastUsedAt
        self.notBefore = notBefore
        self.secrets = secrets
        self.instance = instance
        self.publicKeys = publicKeys
        self.jwksURI = jwksURI
    }

    /// How the client proves who it is: keys win, since a client registered with keys has no secret.
    public var authenticationMethod: String { publicKeys.isEmpty && jwksURI == nil ? "client_secret" : "private_key_jwt" }

    /// True for a secretless client: keys registered or at a URL.
    public var usesKeys: Bool { !publicKeys.isEmpty || jwksURI != nil }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "client")
        id = try reader.string("id")
        name = try reader.optionalString("name") ?? ""
        role = try reader.optionalString("role") ?? ""
        allowedScopes = try reader.optionalStrings("allowedScopes") ?? []
        defaultScopes = try reader.optionalStrings("defaultScopes") ?? []
        tokenLifetime = try reader.optionalInt("tokenLifetime")
        enabled = try reader.optionalBool("enabled") ?? true
        createdAt = try reader.optionalInt("createdAt") ?? 0
        updatedAt = try reader.optionalInt("updatedAt") ?? createdAt
        lastUsedAt = try reader.optionalInt("lastUsedAt")
        notBefore = try reader.optionalInt("notBefore")
        instance = try reader.optionalString("instance")
        if let secrets = reader.members["secrets"], let array = secrets.arrayValue {
            var parsed: [SecretInfo] = []
            for element in array { parsed.append(try SecretInfo(json: element)) }
            self.secrets = parsed
        } else {
            secrets = []
        }
        var keys: [PublicKeyInfo] = []
        for element in reader.members["publicKeys"]?.arrayValue ?? [] { keys.append(try PublicKeyInfo(json: element)) }
        publicKeys = keys
        jwksURI = try reader.optionalString("jwksUri")
    }

    public var json: JSONValue {
        var members: JSONObject = [
            "id": .string(id), "name": .string(name), "role": .string(role),
            "allowedScopes": .array(allowedScopes.map { .string($0) }),
            "defaultScopes": .array(defaultScopes.map { .string($0) }),
            "enabled": .bool(enabled), "createdAt": .int(createdAt), "updatedAt": .int(updatedAt),
            "secrets": .array(secrets.map(\.json)),
        ]
        if let tokenLifetime { members["tokenLifetime"] = .int(tokenLifetime) }
        if let lastUsedAt { members["lastUsedAt"] = .int(lastUsedAt) }
        if let notBefore { members["notBefore"] = .int(notBefore) }
        if let instance { members["instance"] = .string(instance) }
        if !publicKeys.isEmpty { members["publicKeys"] = .array(publicKeys.map(\.json)) }
        if let jwksURI { members["jwksUri"] = .string(jwksURI) }
        return .object(members)
    }
}

/// What may be known about one of a client's secrets: when it was made and when it stops working.
public struct SecretInfo: JSONCodable, Equatable {
    public var createdAt: Int64
    /// Unix seconds; nil while it is the current secret. Set by rotation to the end of the grace period.
    public var expiresAt: Int64?

    public init(createdAt: Int64, expiresAt: Int64?) {
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "secret")
        createdAt = try reader.int("createdAt")
        expiresAt = try reader.optionalInt("expiresAt")
    }

    public var json: JSONValue {
        var members: JSONObject = ["createdAt": .int(createdAt)]
        if let expiresAt { members["expiresAt"] = .int(expiresAt) }
        return .object(members)
    }
}

public enum ClientID {
    /// Unreserved URL characters only (RFC 3986 §2.3), so ids need no escaping anywhere.
    public static func isValid(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...128).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            || $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

public enum Scope {
    /// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
    public static func isValid(_ scope: String) -> Bool {
        !scope.isEmpty && scope.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }
}
