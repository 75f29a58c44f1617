/// Public keys of secretless clients (`private_key_jwt`, OIDC Core §9; RFC 7523 §2.1-2.2), and the store
/// methods that add and remove them (Docs/plugin-protocol.md, "Public keys").
///
/// A store that lists `store.addPublicKey` among its methods keeps `publicKeys` on its records; one that
/// does not may ignore the field, and the host then refuses to register keys with it. Stores hold public
/// keys only: a leaked database leaks nothing a client could be impersonated with.
public enum ClientKeys {
    public static let addPublicKey = Method<AddPublicKeyParams, ClientResult>("store.addPublicKey")
    public static let removePublicKey = Method<RemovePublicKeyParams, ClientResult>("store.removePublicKey")
    /// Sets, replaces or (with null) drops a secretless client's `jwksUri`. A store that serves it keeps
    /// `jwksUri` on its records; one that does not may ignore the field, and the host refuses such clients.
    public static let setJWKSetURL = Method<SetJWKSetURLParams, ClientResult>("store.setJwksUri")

    public static let allMethods = [addPublicKey.name, removePublicKey.name, setJWKSetURL.name]

    /// More than this many keys on one client is a mistake: two cover a rotation.
    public static let maxKeysPerClient = 10
}

/// One registered public key, as a JWK (RFC 7517 §4) of public members only.
public struct PublicKeyInfo: JSONCodable, Equatable {
    /// The JWK `kid`: what an assertion's header names; unique per client. `[A-Za-z0-9._~-]{1,128}`.
    public var keyID: String
    /// The JWS algorithm the key verifies: `RS256`, `ES256` or `EdDSA`.
    public var algorithm: String
    /// Public JWK members (`kty`, `n`, `e`, `crv`, `x`, `y`), base64url strings.
    public var jwk: [String: String]
    /// Unix seconds; set by the store.
    public var createdAt: Int64

    public init(keyID: String, algorithm: String, jwk: [String: String], createdAt: Int64 = 0) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.jwk = jwk
        self.createdAt = createdAt
    }

    /// Only these JWK members are kept: the public ones of RSA, EC and OKP keys (RFC 7518 §6.2.1, §6.3.1;
    /// RFC 8037 §2). A private member is never accepted, so no store ever holds one.
    public static let publicMembers: Set<String> = ["kty", "n", "e", "crv", "x", "y"]

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "public key")
        keyID = try reader.string("kid")
        algorithm = try reader.string("alg")
        createdAt = try reader.optionalInt("createdAt") ?? 0
        let members = try JSONObjectReader(try reader.value("jwk"), what: "jwk").members
        var jwk: [String: String] = [:]
        for (name, value) in members {
            guard Self.publicMembers.contains(name) else { throw JSONShapeError("jwk member '\(name.prefix(32))' is not a public key member") }
            guard let text = value.stringValue, text.utf8.count <= 1024 else { throw JSONShapeError("jwk member '\(name)' must be a short string") }
            jwk[name] = text
        }
        self.jwk = jwk
    }

    public var json: JSONValue {
        ["kid": .string(keyID), "alg": .string(algorithm), "createdAt": .int(createdAt),
         "jwk": .object(JSONObject(jwk.mapValues { .string($0) }))]
    }
}

public struct AddPublicKeyParams: JSONCodable, Equatable {
    public var clientID: String
    public var key: PublicKeyInfo
    public init(clientID: String, key: PublicKeyInfo) {
        self.clientID = clientID
        self.key = key
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        key = try reader.decode("key")
    }
    public var json: JSONValue { ["clientId": .string(clientID), "key": key.json] }
}

public struct RemovePublicKeyParams: JSONCodable, Equatable {
    public var clientID: String
    public var keyID: String
    public init(clientID: String, keyID: String) {
        self.clientID = clientID
        self.keyID = keyID
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        keyID = try reader.string("kid")
    }
    public var json: JSONValue { ["clientId": .string(clientID), "kid": .string(keyID)] }
}

public struct SetJWKSetURLParams: JSONCodable, Equatable {
    public var clientID: String
    /// The new URL (replacing the one there is, or the client's registered keys); nil drops it.
    public var jwksURI: String?
    public init(clientID: String, jwksURI: String?) {
        self.clientID = clientID
        self.jwksURI = jwksURI
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        guard reader.members["jwksUri"] != nil else { throw JSONShapeError("missing field 'jwksUri' (null drops it)") }
        jwksURI = try reader.optionalString("jwksUri")
    }
    public var json: JSONValue { ["clientId": .string(clientID), "jwksUri": jwksURI.map { .string($0) } ?? .null] }
}
