import PluginProtocol

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server is and does, built from the
/// issuer and the endpoints the route table actually serves.
enum Discovery {
    static let path = "/.well-known/oauth-authorization-server"

    /// `endpoints`: (metadata member, path) for every served route that RFC 8414 §2 names.
    static func document(issuer: String, endpoints: [(key: String, path: String)]) -> JSONValue {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let methods: JSONValue = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        // RFC 8414 §2: the `alg`s accepted for private_key_jwt (AssertionVerifier.allowedAlgorithms).
        let algorithms: JSONValue = .array(AssertionVerifier.allowedAlgorithms.keys.sorted().map { .string($0) })
        var members: [String: JSONValue] = [
            "issuer": .string(issuer),
            "grant_types_supported": ["client_credentials", .string(ClientAssertion.grantType)],
            "token_endpoint_auth_signing_alg_values_supported": algorithms,
            "revocation_endpoint_auth_signing_alg_values_supported": algorithms,
            "introspection_endpoint_auth_signing_alg_values_supported": algorithms,
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "scopes_supported": ["metrics", .string(IntrospectionEndpoint.scope)],
        ]
        for endpoint in endpoints { members[endpoint.key] = .string(base + endpoint.path) }
        return .object(members)
    }
}
