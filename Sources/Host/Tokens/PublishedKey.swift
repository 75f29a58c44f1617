import JOSE
import JSON

/// A public signing key that is not in this host's ring: another host's key, read from its JWK. It verifies
/// that host's tokens here and is served in this host's JWK Set too, so every host publishes the union
/// (Docs/architecture.md, several hosts). It never signs.
public struct PublishedKey: Sendable {
    public let id: String
    public let algorithm: SignatureAlgorithm
    let key: AsymmetricKey
    let jwk: JSONValue

    /// RFC 7518 §6.2.2, §6.3.2, §6.4: members that would reveal a private or symmetric key.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// From a JWK Set entry (RFC 7517 §4) with `kid` and `alg`; refuses private members and symmetric keys.
    public init(jwk: JSONValue) throws(JOSEError) {
        guard let members = jwk.objectValue, let id = members["kid"]?.stringValue, let name = members["alg"]?.stringValue,
            let algorithm = SignatureAlgorithm(rawValue: name), algorithm.isAsymmetric
        else { throw JOSEError("a published key needs kid and an asymmetric alg") }
        guard Set(members.keys).isDisjoint(with: Self.privateMembers) else { throw JOSEError("a published key must be public") }
        var strings: [String: String] = [:]
        for (name, value) in members { if let text = value.stringValue { strings[name] = text } }
        self.id = id
        self.algorithm = algorithm
        self.key = try AsymmetricKey(publicJWK: strings, algorithm: algorithm)
        var published = try key.publicJWK().mapValues { JSONValue.string($0) }
        published["kid"] = .string(id)
        published["use"] = "sig"
        published["alg"] = .string(name)
        self.jwk = .object(published)
    }
}
