/// The JWS `alg` values Gatehouse signs access tokens with (RFC 7518 §3.1, RFC 8037 §3.1).
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048: the default, RFC 9068 §2.1 requires it.
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256; the signature is R‖S, 64 bytes (RFC 7518 §3.4), not DER.
    case es256 = "ES256"
    /// Ed25519 (RFC 8037 §3.1).
    case edDSA = "EdDSA"
    /// HMAC SHA-256: a shared secret, so only a single host that checks its own tokens can use it.
    case hs256 = "HS256"

    /// Has a public half that can be published in a JWK Set.
    public var isAsymmetric: Bool { self != .hs256 }

    /// The JWK `kty` of its keys (RFC 7518 §6.1, RFC 8037 §2).
    public var keyType: String {
        switch self {
        case .rs256: return "RSA"
        case .es256: return "EC"
        case .edDSA: return "OKP"
        case .hs256: return "oct"
        }
    }
}
