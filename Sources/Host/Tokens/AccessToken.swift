import JSON

/// The claims of a Gatehouse access token: the RFC 9068 JWT profile (`typ: at+jwt`).
public struct AccessToken: Sendable, Equatable {
    /// `iss`
    public var issuer: String
    /// `sub` and `client_id`: with client credentials the subject is the client (RFC 9068 §2.2).
    public var clientID: String
    /// `aud`
    public var audience: String
    /// `iat`, `exp` (Unix seconds).
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// `nbf` (RFC 7519 §4.1.5); the host signs it equal to `iat`, and refuses a token before it.
    public var notBefore: Int64?
    /// `jti`: unique per token, for revocation and audit.
    public var tokenID: String
    /// `scope`: space-separated in the JWT (RFC 9068 §2.2.3).
    public var scopes: [String]
    /// `client_instance`: the `instance` of the client record it was issued to, so a client removed and
    /// created again under the same id does not inherit it.
    public var clientInstance: String?

    public init(issuer: String, clientID: String, audience: String, issuedAt: Int64, expiresAt: Int64, tokenID: String,
                scopes: [String], clientInstance: String? = nil, notBefore: Int64? = nil)
    {
        self.issuer = issuer
        self.clientID = clientID
        self.audience = audience
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
        self.scopes = scopes
        self.clientInstance = clientInstance
        self.notBefore = notBefore
    }

    /// The JWT claims set (RFC 9068 §2.2) as compact JSON, members in a fixed order.
    var encodedClaims: [UInt8] {
        var claims = JSONObjectWriter()
        claims.member("iss", issuer)
        claims.member("sub", clientID)
        claims.member("client_id", clientID)
        if let clientInstance { claims.member("client_instance", clientInstance) }
        claims.member("aud", audience)
        claims.member("iat", issuedAt)
        claims.member("nbf", notBefore ?? issuedAt)
        claims.member("exp", expiresAt)
        claims.member("jti", tokenID)
        claims.member("scope", scopes.joined(separator: " "))
        return claims.finish()
    }

    init(claims: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(claims, what: "claims")
        issuer = try reader.string("iss")
        clientID = try reader.string("client_id")
        guard try reader.string("sub") == clientID else { throw JSONShapeError("sub and client_id differ") }
        audience = try reader.string("aud")
        issuedAt = try reader.int("iat")
        expiresAt = try reader.int("exp")
        tokenID = try reader.string("jti")
        scopes = try reader.string("scope").split(separator: " ").map(String.init)
        notBefore = try reader.optionalInt("nbf")
        clientInstance = try reader.optionalString("client_instance")
    }
}
