import CryptoPrimitives

/// How a token request authenticated its client (RFC 6749 §2.3.1).
public struct ClientCredentials: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// HTTP Basic with form-encoded id and secret: what Prometheus and Go's x/oauth2 try first.
        case basic = "client_secret_basic"
        /// `client_id` and `client_secret` in the body: what x/oauth2 retries with.
        case post = "client_secret_post"
    }

    public var clientID: String
    public var secret: String
    public var method: Method

    /// Extracts credentials from the Authorization header and the form parameters.
    ///
    /// - Both methods at once: `invalid_request` (§2.3: "MUST NOT use more than one authentication method").
    /// - No credentials, or a header with another scheme: `invalid_client`.
    /// - A body `client_id` that differs from the Basic one: `invalid_request`.
    public static func extract(authorization: [String], form: [String: String]) -> Result<ClientCredentials, OAuthError> {
        guard authorization.count <= 1 else { return .failure(.invalidRequest("more than one Authorization header")) }
        if let header = authorization.first {
            guard let space = header.utf8.firstIndex(of: UInt8(ascii: " ")), header.utf8[..<space].equalsIgnoringASCIICase("basic") else {
                return .failure(.invalidClient(reason: "unsupported_auth_scheme"))
            }
            if form["client_secret"] != nil {
                return .failure(.invalidRequest("use either HTTP Basic or client_secret in the body, not both"))
            }
            guard let decoded = Base64.decode(String(header[header.index(after: space)...].trimmingOWS()), alphabet: .standard),
                let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
                let id = try? FormURLEncoding.decodeComponent(decoded[..<colon]),
                let secret = try? FormURLEncoding.decodeComponent(decoded[(colon + 1)...])
            else {
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
}
