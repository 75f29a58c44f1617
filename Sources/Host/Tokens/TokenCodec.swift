import CryptoPrimitives
import JOSE
import JSON

/// Signs and verifies access tokens as compact JWS (RFC 7515): RS256, ES256 (RFC 7518 §3.3-3.4), EdDSA
/// (RFC 8037) or HS256 (RFC 7518 §3.2), whichever the ring's active key uses.
///
/// Verification is strict about everything an attacker controls: exactly three base64url parts, a header
/// of exactly `alg`, `typ: at+jwt` and a known `kid`, whose `alg` must be the algorithm of that key (so
/// `alg: none`, an RSA public key used as an HMAC secret, and HS256 tokens against an asymmetric key all
/// fail), a signature check (constant-time for HMAC) before any claim is trusted, then issuer, audience
/// and time. A retired key does not vouch for tokens issued after it retired.
///
/// A class, immutable: every token takes the current one from `TokenCodecSource`, and a struct of its size was
/// a copy with six references retained and released each time.
public final class TokenCodec: Sendable {
    public let keys: SigningKeyRing
    /// Other hosts' public keys (`PublishedKey`): verified here, never used to sign.
    public let extraKeys: [PublishedKey]
    public let issuer: String
    public let audience: String
    /// Clock skew tolerated for `iat`/`nbf` in the future (other hosts' clocks).
    public let leeway: Int64 = 30

    public init(keys: SigningKeyRing, issuer: String, audience: String, extraKeys: [PublishedKey] = []) {
        self.keys = keys
        self.extraKeys = extraKeys
        self.issuer = issuer
        self.audience = audience
    }

    public func sign(_ token: AccessToken) throws(JOSEError) -> String {
        let key = keys.current
        let claims = token.encodedClaims
        // One buffer, sized for the whole token up front (an RSA-4096 signature is 683 characters).
        var compact: [UInt8] = []
        compact.reserveCapacity(key.encodedHeader.count + (claims.count * 4 + 2) / 3 + 700)
        compact += key.encodedHeader
        compact.append(UInt8(ascii: "."))
        Base64.append(claims, alphabet: .url, to: &compact)
        let signature = try key.sign(compact)
        compact.append(UInt8(ascii: "."))
        Base64.append(signature, alphabet: .url, to: &compact)
        return String(decoding: compact, as: UTF8.self)
    }

    public enum Rejection: Error, Equatable, CustomStringConvertible {
        case malformed
        /// A well-formed header naming a `kid` no key of this host (nor any published key) has: another
        /// issuer's token, a withdrawn key's, or a host whose key this one has not read yet.
        case unknownKey
        case badSignature
        case expired
        case notYetValid
        case wrongIssuer
        case wrongAudience

        /// For `error_description`: says what is wrong without echoing the token.
        public var description: String {
            switch self {
            case .malformed: return "the access token is malformed"
            case .unknownKey: return "the access token is signed with a key this server does not know"
            case .badSignature: return "the access token signature is invalid"
            case .expired: return "the access token expired"
            case .notYetValid: return "the access token is not valid yet"
            case .wrongIssuer: return "the access token was issued by another issuer"
            case .wrongAudience: return "the access token is for another audience"
            }
        }
    }

    public func verify(_ text: Substring, now: Int64) -> Result<AccessToken, Rejection> {
        verifySignedClaims(text).flatMap { checkTimes($0, now: now) }
    }

    /// Everything about a token that does not change with time: form, header, signature, issuer, audience.
    /// Its success may be remembered for the token's lifetime (`TokenCodecSource`); `checkTimes` may not.
    func verifySignedClaims(_ text: Substring) -> Result<AccessToken, Rejection> {
        let bytes = Array(text.utf8)
        guard bytes.count <= 4096 else { return .failure(.malformed) }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3,
            let header = Self.decodeJSON(parts[0]),
            let alg = header["alg"]?.stringValue, header["typ"]?.stringValue?.lowercased() == "at+jwt",
            header.objectValue?.count == 3, let kid = header["kid"]?.stringValue,
            let signature = Self.decode(parts[2])
        else { return .failure(.malformed) }
        guard let verifier = verifier(kid: kid) else { return .failure(.unknownKey) }
        // The key's own algorithm, never the header's choice: `none`, HS256 on an RSA key and relabelled
        // signatures all end here.
        guard verifier.algorithm.rawValue == alg else { return .failure(.malformed) }
        let valid = bytes.withUnsafeBytes { raw in
            verifier.verify(signature, UnsafeRawBufferPointer(rebasing: raw[0..<(parts[0].count + 1 + parts[1].count)]))
        }
        guard valid else { return .failure(.badSignature) }
        guard let claims = Self.decodeJSON(parts[1]), let token = try? AccessToken(claims: claims) else {
            return .failure(.malformed)
        }
        guard token.issuer == issuer else { return .failure(.wrongIssuer) }
        guard token.audience == audience else { return .failure(.wrongAudience) }
        // Only a thief of a retired private key could sign a token dated after the key retired.
        if let retired = verifier.retiredAt, token.issuedAt > retired + leeway { return .failure(.badSignature) }
        return .success(token)
    }

    func checkTimes(_ token: AccessToken, now: Int64) -> Result<AccessToken, Rejection> {
        guard now < token.expiresAt else { return .failure(.expired) }
        guard token.issuedAt <= now + leeway else { return .failure(.notYetValid) }
        // RFC 7519 §4.1.5: not to be accepted before `nbf` (with the same allowance for clock skew).
        if let notBefore = token.notBefore, notBefore > now + leeway { return .failure(.notYetValid) }
        return .success(token)
    }

    private struct Verifier {
        let algorithm: SignatureAlgorithm
        let retiredAt: Int64?
        let verify: (_ signature: [UInt8], _ input: UnsafeRawBufferPointer) -> Bool
    }

    private func verifier(kid: String) -> Verifier? {
        if let key = keys.key(id: kid) {
            return Verifier(algorithm: key.algorithm, retiredAt: key.retiredAt) { key.verify($0, for: $1) }
        }
        guard let published = extraKeys.first(where: { $0.id == kid }) else { return nil }
        return Verifier(algorithm: published.algorithm, retiredAt: nil) { published.key.verify($0, for: $1) }
    }

    private static func decode(_ part: ArraySlice<UInt8>) -> [UInt8]? {
        part.withUnsafeBytes { Base64.decode($0, alphabet: .url) }
    }

    private static func decodeJSON(_ part: ArraySlice<UInt8>) -> JSONValue? {
        decode(part).flatMap { try? JSONParser.parse($0, maxDepth: 4) }
    }
}
