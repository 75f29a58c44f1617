/// Hosts' public signing keys, shared through the store so that several hosts verify each other's tokens
/// and serve one JWK Set (Docs/plugin-protocol.md, "Hosts' signing keys"; Docs/deployment.md, several hosts).
///
/// Optional: a store that does not list `store.signingKeys` is fine for a single host. Stores hold public
/// keys only (RFC 7517 §4 members of `PublicKeyInfo.publicMembers`): each host keeps its private key in its
/// own data directory, and a leaked store leaks nothing a token could be signed with.
public enum HostSigningKeys {
    /// Upserts each key by `kid` (idempotent) and drops every entry whose `notAfter` has passed.
    public static let publish = Method<PublishSigningKeysParams, Empty>("store.publishSigningKeys")
    /// Every published key whose `notAfter` has not passed, from every host.
    public static let list = Method<Empty, SigningKeysResult>("store.signingKeys")

    public static let allMethods = [publish.name, list.name]

    /// An `invalidate` that names this (no client id starts with `~`) says the published keys changed; one
    /// naming all clients (an empty list) may mean that too. postgres-store's change log names it.
    public static let changeSubject = "~signing-keys"

    /// One host's ring holds a few keys (next, current, retired ones); a store holds those of all hosts.
    public static let maxKeysPerPublish = 20
    public static let maxKeysListed = 1000

    /// The algorithms a published key may verify: asymmetric ones only (an HS256 secret is never shared
    /// through a store).
    public static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]

    /// `kid` syntax, as for client keys: `[A-Za-z0-9._~-]{1,128}`.
    public static func isValidKeyID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x7E || byte == 0x2D
        }
    }
}

/// One host's public signing key with the times it matters between.
public struct HostPublicKey: JSONCodable, Equatable, Sendable {
    public var keyID: String
    public var algorithm: String
    /// Public JWK members only (`kty`, `n`, `e`, `crv`, `x`, `y`).
    public var jwk: [String: String]
    /// Unix seconds from which the key may sign (it is published earlier, so verifiers know it first).
    public var notBefore: Int64
    /// Unix seconds after which no valid token can carry it: retirement (or the next republication) plus
    /// the longest token lifetime. The store deletes the entry then.
    public var notAfter: Int64

    public init(keyID: String, algorithm: String, jwk: [String: String], notBefore: Int64, notAfter: Int64) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.jwk = jwk
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Refuses a bad `kid`, a symmetric algorithm, inverted times and any member that is not a public key
    /// member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`, ...), so neither side ever handles a private key here.
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "signing key")
        keyID = try reader.string("kid")
        algorithm = try reader.string("alg")
        notBefore = try reader.int("notBefore")
        notAfter = try reader.int("notAfter")
        guard HostSigningKeys.isValidKeyID(keyID) else { throw JSONShapeError("kid must match [A-Za-z0-9._~-]{1,128}") }
        guard HostSigningKeys.algorithms.contains(algorithm) else { throw JSONShapeError("alg must be RS256, ES256 or EdDSA") }
        guard notAfter > notBefore else { throw JSONShapeError("notAfter must be after notBefore") }
        let members = try JSONObjectReader(try reader.value("jwk"), what: "jwk").members
        var jwk: [String: String] = [:]
        for (name, value) in members {
            guard PublicKeyInfo.publicMembers.contains(name) else {
                throw JSONShapeError("jwk member '\(name.prefix(32))' is not a public key member")
            }
            guard let text = value.stringValue, text.utf8.count <= 1024 else { throw JSONShapeError("jwk member '\(name)' must be a short string") }
            jwk[name] = text
        }
        guard jwk["kty"] != nil else { throw JSONShapeError("jwk needs kty") }
        self.jwk = jwk
    }

    public var json: JSONValue {
        ["kid": .string(keyID), "alg": .string(algorithm), "notBefore": .int(notBefore), "notAfter": .int(notAfter),
         "jwk": .object(JSONObject(jwk.mapValues { .string($0) }))]
    }
}

public struct PublishSigningKeysParams: JSONCodable, Equatable {
    public var keys: [HostPublicKey]
    public init(keys: [HostPublicKey]) { self.keys = keys }
    public init(json: JSONValue) throws(JSONShapeError) {
        keys = try HostPublicKey.array(json, what: "params", max: HostSigningKeys.maxKeysPerPublish)
    }
    public var json: JSONValue { ["keys": .array(keys.map(\.json))] }
}

public struct SigningKeysResult: JSONCodable, Equatable {
    public var keys: [HostPublicKey]
    public init(keys: [HostPublicKey]) { self.keys = keys }
    public init(json: JSONValue) throws(JSONShapeError) {
        keys = try HostPublicKey.array(json, what: "result", max: HostSigningKeys.maxKeysListed)
    }
    public var json: JSONValue { ["keys": .array(keys.map(\.json))] }
}

extension HostPublicKey {
    fileprivate static func array(_ json: JSONValue, what: String, max: Int) throws(JSONShapeError) -> [HostPublicKey] {
        let reader = try JSONObjectReader(json, what: what)
        guard let array = try reader.value("keys").arrayValue else { throw JSONShapeError("field 'keys' must be an array") }
        guard array.count <= max else { throw JSONShapeError("at most \(max) keys") }
        var keys: [HostPublicKey] = []
        for element in array {
            do { keys.append(try HostPublicKey(json: element)) } catch { throw JSONShapeError("in 'keys': \(error.message)") }
        }
        return keys
    }
}
