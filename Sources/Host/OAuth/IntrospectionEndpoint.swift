import PluginProtocol

/// `POST /api/v1/oauth/introspect` (RFC 7662), for resource servers. The caller authenticates as a client
/// allowed the `introspect` scope. An inactive token reveals nothing but `{"active": false}` (§2.2).
struct IntrospectionEndpoint: Sendable {
    static let scope = "introspect"

    let authenticator: ClientAuthenticator
    let validator: TokenValidator

    func handle(_ request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        authenticator.authenticateTokenRequest(request, context: context, route: Router.introspectPath, completion: completion) {
            tokenText, caller in
            guard caller.allowedScopes.contains(Self.scope) else {
                return completion(OAuthError(code: "unauthorized_client", description: "introspection needs a client allowed scope '\(Self.scope)'",
                                             status: 403, auditReason: "not_allowed_to_introspect").response)
            }
            validator.validate(tokenText[...]) { result in
                switch result {
                case .unavailable: completion(OAuthError.unavailable("store_unavailable").response)
                case .invalid: completion(Self.answer(["active": false]))
                case .valid(let token, _):
                    completion(Self.answer([
                        "active": true, "scope": .string(token.scopes.joined(separator: " ")), "client_id": .string(token.clientID),
                        "sub": .string(token.clientID), "aud": .string(token.audience), "iss": .string(token.issuer),
                        "exp": .int(token.expiresAt), "iat": .int(token.issuedAt), "nbf": .int(token.notBefore ?? token.issuedAt),
                        "jti": .string(token.tokenID), "token_type": "Bearer",
                    ]))
                }
            }
        }
    }

    private static func answer(_ body: JSONValue) -> HTTPResponse {
        .json(200, body, headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
    }
}
