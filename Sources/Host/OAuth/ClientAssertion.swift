import CryptoPrimitives
import PluginProtocol

/// A JWT a client signed to prove who it is (RFC 7523 §2.1 authorization grant, §2.2 client authentication;
/// OIDC Core §9 `private_key_jwt`), parsed but not yet trusted: nothing here is believed until
/// `AssertionVerifier` has checked the signature with a key registered for `subject`.
struct ClientAssertion: Sendable {
    /// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
    static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// RFC 7523 §2.1: the `grant_type` of the JWT authorization grant.
    static let grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    /// Far above any RSA-4096 assertion with a few claims; refused before any base64 or JSON work.
    static let maxLength = 8192

    let algorithm: String
    let keyID: String?
    let issuer: String?
    let subject: String?
    let audiences: [String]
    let expiresAt: Int64?
    let notBefore: Int64?
    let issuedAt: Int64?
    let tokenID: String?
    /// The `header.claims` bytes the signature covers (RFC 7515 §5.2 step 8) and the signature.
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// Nil for anything that is not a compact JWS with JSON header and claims. A header with `crit` is
    /// refused: RFC 7515 §4.1.11 says extensions a recipient does not understand make the JWS invalid.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maxLength else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3,
            let header = Self.json(parts[0]), header.objectValue != nil, header["crit"] == nil,
            let algorithm = header["alg"]?.stringValue,
            let claims = Self.json(parts[1]), claims.objectValue != nil,
            let signature = parts[2].withUnsafeBytes({ Base64.decode($0, alphabet: .url) })
        else { return nil }
        self.algorithm = algorithm
        keyID = header["kid"]?.stringValue
        issuer = claims["iss"]?.stringValue
        subject = claims["sub"]?.stringValue
        // RFC 7519 §4.1.3: one string or an array of strings.
        if let single = claims["aud"]?.stringValue {
            audiences = [single]
        } else {
            audiences = claims["aud"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        expiresAt = Self.numericDate(claims["exp"])
        notBefore = Self.numericDate(claims["nbf"])
        issuedAt = Self.numericDate(claims["iat"])
        tokenID = claims["jti"]?.stringValue
        signingInput = Array(bytes[0..<(parts[0].count + 1 + parts[1].count)])
        self.signature = signature
    }

    /// The client the assertion claims to be, before anything is verified: `sub` (RFC 7523 §3 item 2.B: the
    /// client id for client authentication), else `iss`. Used to find the keys and to key the failure limits.
    static func claimedClientID(_ text: String) -> String {
        guard let assertion = ClientAssertion(text) else { return "" }
        return assertion.subject ?? assertion.issuer ?? ""
    }

    /// RFC 7519 §2 NumericDate: seconds, possibly with a fraction (which is dropped, towards the past).
    private static func numericDate(_ value: JSONValue?) -> Int64? {
        if let int = value?.intValue { return int }
        if let double = value?.doubleValue, double.isFinite, abs(double) < 1e15 { return Int64(double.rounded(.down)) }
        return nil
    }

    private static func json(_ part: ArraySlice<UInt8>) -> JSONValue? {
        part.withUnsafeBytes { Base64.decode($0, alphabet: .url) }.flatMap { try? JSONParser.parse($0, maxDepth: 4) }
    }
}

extension OAuthError {
    /// RFC 7523 §3.1: a JWT authorization grant that is not valid is `invalid_grant`. One description for
    /// every reason, like `invalid_client`.
    static func invalidGrant(reason: String) -> OAuthError {
        OAuthError(code: "invalid_grant", description: "the assertion is not valid", status: 400, auditReason: reason)
    }
}
