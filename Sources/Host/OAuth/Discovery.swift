import PluginProtocol

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server is and does, built from the
/// issuer and the routes actually served.
enum Discovery {
    static let path = "/.well-known/oauth-authorization-server"

    static func document(issuer: String) -> JSONValue {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let methods: JSONValue = ["client_secret_basic", "client_secret_post"]
        return [
            "issuer": .string(issuer),
            "token_endpoint": .string(base + Router.tokenPath),
            "revocation_endpoint": .string(base + Router.revokePath),
            "introspection_endpoint": .string(base + Router.introspectPath),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "scopes_supported": ["metrics", .string(IntrospectionEndpoint.scope)],
        ]
    }
}
