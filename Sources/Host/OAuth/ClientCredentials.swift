import CryptoPrimitives

/// How a token request authenticated its client (RFC 6749 §2.3.1).
public struct ClientCredentials: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// HTTP Basic with form-encoded id and secret: what Prometheus and Go's x/oauth2 try first.
        case basic = "client_secret_basic"
        /// `client_id` and `client_secret` in the body: what x/oauth2 retries with.
        case post = "client_secret_post"
        /// A JWT signed with the client's private key (RFC 7523 §2.2, OIDC Core §9).
        case privateKeyJWT = "private_key_jwt"
        /// The JWT-bearer authorization grant (RFC 7523 §2.1): the assertion is the grant and the proof.
        case jwtBearerGrant = "jwt_bearer_grant"
    }

    public var clientID: String
    /// Empty for the assertion methods.
    public var secret: String
    public var method: Method
    /// The JWT for `privateKeyJWT` and `jwtBearerGrant`.
    public var assertion: String?

    public init(clientID: String, secret: String, method: Method, assertion: String? = nil) {
        self.clientID = clientID
        self.secret = secret
        self.method = method
        self.assertion = assertion
    }

    /// What the failure limits fingerprint: the same secret or assertion sent twice is one attempt.
    var proof: String { assertion ?? secret }

    /// Extracts credentials from the Authorization header and the form parameters.
    ///
    /// - Both methods at once: `invalid_request` (§2.3: "MUST NOT use more than one authentication method").
    /// - No credentials, or a header with another scheme: `invalid_client`.
    /// - A body `client_id` that differs from the Basic one: `invalid_request`.
    static func extract(authorization: [String], form: OAuthParameters) -> Result<ClientCredentials, OAuthError> {
        guard authorization.count <= 1 else { return .failure(.invalidRequest("more than one Authorization header")) }
        if form["client_assertion"] != nil || form["client_assertion_type"] != nil {
            return assertion(authorization: authorization, form: form)
        }
        if let header = authorization.first {
            let parsed = basic(header)
            if case .otherScheme = parsed { return .failure(.invalidClient(reason: "unsupported_auth_scheme")) }
            if form["client_secret"] != nil {
                return .failure(.invalidRequest("use either HTTP Basic or client_secret in the body, not both"))
            }
            guard case .credentials(let id, let secret) = parsed else {
                return .failure(.invalidClient(reason: "malformed_basic_credentials"))
            }
            if let bodyID = form["client_id"], bodyID != id {
                return .failure(.invalidRequest("client_id in the body differs from the Basic credentials"))
            }
            guard !id.isEmpty else { return .failure(.invalidClient(reason: "missing_client_id")) }
            return .success(ClientCredentials(clientID: id, secret: secret, method: .basic))
        }
        guard let id = form["client_id"], let secret = form["client_secret"], !id.isEmpty else {
            return .failure(.invalidClient(reason: "no_client_authentication"))
        }
        return .success(ClientCredentials(clientID: id, secret: secret, method: .post))
    }

    private enum BasicHeader {
        case otherScheme
        case malformed
        case credentials(id: String, secret: String)
    }

    /// An `Authorization: Basic` header's id and secret, each form-encoded before the base64 (§2.3.1). Read
    /// over the header's bytes: Substring trimming and a String copy for the decoder cost more than the decoding.
    private static func basic(_ header: String) -> BasicHeader {
        var header = header
        return header.withUTF8 { bytes in
            guard let space = bytes.firstIndex(of: UInt8(ascii: " ")),
                UnsafeBufferPointer(rebasing: bytes[..<space]).equalsIgnoringASCIICase("basic")
            else { return .otherScheme }
            let encoded = ASCII.trimmingOWS(UnsafeBufferPointer(rebasing: bytes[(space + 1)...]))
            guard let decoded = Base64.decode(UnsafeRawBufferPointer(encoded), alphabet: .standard),
                let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
                let id = try? FormURLEncoding.decodeComponent(decoded[..<colon]),
                let secret = try? FormURLEncoding.decodeComponent(decoded[(colon + 1)...])
            else { return .malformed }
            return .credentials(id: id, secret: secret)
        }
    }

    /// RFC 7523 §2.2 / RFC 7521 §4.2: `client_assertion_type` and `client_assertion`, with `client_id`
    /// optional (when present it must be the assertion's subject). Another method beside it is
    /// `invalid_request` (RFC 6749 §2.3); everything about the JWT itself is checked later, where failures
    /// count (`ClientAuthenticator`).
    private static func assertion(authorization: [String], form: OAuthParameters) -> Result<ClientCredentials, OAuthError> {
        guard authorization.isEmpty, form["client_secret"] == nil else {
            return .failure(.invalidRequest("use either a client assertion or a client secret, not both"))
        }
        guard let type = form["client_assertion_type"], let assertion = form["client_assertion"], !assertion.isEmpty else {
            return .failure(.invalidRequest("client_assertion and client_assertion_type go together"))
        }
        guard type == ClientAssertion.clientAssertionType else { return .failure(.invalidClient(reason: "unsupported_assertion_type")) }
        let claimed = ClientAssertion.claimedClientID(assertion)
        if let bodyID = form["client_id"], bodyID != claimed {
            return .failure(.invalidRequest("client_id differs from the assertion's subject"))
        }
        return .success(ClientCredentials(clientID: claimed, secret: "", method: .privateKeyJWT, assertion: assertion))
    }
}
