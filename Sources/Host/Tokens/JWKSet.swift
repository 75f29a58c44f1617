import JSON

/// `GET /.well-known/jwks.json` (RFC 7517 §5): the public half of every key that signs or has signed
/// tokens still valid, so a resource server verifies Gatehouse tokens with a stock JWT library.
enum JWKSet {
    static let path = "/.well-known/jwks.json"

    static func document(_ ring: SigningKeyRing, extra: [PublishedKey]) -> JSONValue {
        let own = ring.keys.compactMap { $0.publicJWK() }
        let others = extra.filter { key in ring.key(id: key.id) == nil }.map(\.jwk)
        return ["keys": .array(own + others)]
    }

    /// Public, cacheable for one max-age: the lifecycle publishes keys that long before they sign.
    static func response(_ ring: SigningKeyRing, extra: [PublishedKey]) -> HTTPResponse {
        .json(200, document(ring, extra: extra), headers: [("Cache-Control", "public, max-age=\(SigningKeyRing.jwksMaxAge)")])
    }
}
