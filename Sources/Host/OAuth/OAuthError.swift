
/// A token endpoint error response (RFC 6749 §5.2).
public struct OAuthError: Error, Sendable, Equatable {
    public var code: String
    public var description: String
    public var status: Int
    /// `WWW-Authenticate` for 401s: RFC 9110 §15.5.2 requires one on every 401, and RFC 6749 §5.2 names the
    /// scheme a client that used the Authorization header should use.
    public var challenge: String?
    /// For `temporarily_unavailable` (503): seconds before retrying.
    public var retryAfter: Int?
    /// Why, for the audit log and metrics only (`unknown_client`, `wrong_secret`, …); never sent.
    public var auditReason: String

    public static func invalidRequest(_ description: String) -> OAuthError {
        OAuthError(code: "invalid_request", description: description, status: 400, auditReason: "invalid_request")
    }

    /// The same answer for every client authentication failure, so responses reveal nothing about which
    /// client ids exist.
    public static func invalidClient(reason: String) -> OAuthError {
        OAuthError(code: "invalid_client", description: "client authentication failed", status: 401,
                   challenge: #"Basic realm="gatehouse", charset="UTF-8""#, auditReason: reason)
    }

    public static func unsupportedGrantType(_ grant: String) -> OAuthError {
        OAuthError(code: "unsupported_grant_type", description: "grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer",
                   status: 400, auditReason: "unsupported_grant_type")
    }

    public static func invalidScope(_ description: String) -> OAuthError {
        OAuthError(code: "invalid_scope", description: description, status: 400, auditReason: "invalid_scope")
    }

    /// Too many failed authentications for this client id or from this address (brute-force protection).
    public static func rateLimited(scope: String, retryAfter: Int) -> OAuthError {
        OAuthError(code: "temporarily_unavailable", description: "too many failed authentication attempts; retry later",
                   status: 429, retryAfter: retryAfter, auditReason: "rate_limited_\(scope)")
    }

    /// A plugin failed or is restarting: fail closed, fast, and say when to retry.
    public static func unavailable(_ reason: String) -> OAuthError {
        OAuthError(code: "temporarily_unavailable", description: "the authorization server is temporarily unavailable",
                   status: 503, retryAfter: 1, auditReason: reason)
    }

    public var response: HTTPResponse {
        var headers: [(String, String)] = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if let challenge { headers.append(("WWW-Authenticate", challenge)) }
        if let retryAfter { headers.append(("Retry-After", String(retryAfter))) }
        return .error(status, code: code, description: description, headers: headers)
    }
}
