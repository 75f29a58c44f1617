import PluginProtocol

/// Authenticates the client of a request to the revocation or introspection endpoint through the store,
/// with the same refusals, metrics and audit lines as the token endpoint.
struct ClientAuthenticator: Sendable {
    let directory: ClientDirectory
    let limiter: FailureRateLimiter
    let metrics: GatehouseMetrics
    let logger: Logger

    func authenticate(_ credentials: ClientCredentials, endpoint: String, context: RequestContext,
                      completion: @escaping @Sendable (Result<ClientRecord, OAuthError>) -> Void)
    {
        if case .limited(let scope, let retryAfter) = limiter.check(clientID: credentials.clientID, address: context.remoteAddress) {
            metrics.rateLimited.increment([scope])
            return completion(.failure(.rateLimited(scope: scope, retryAfter: retryAfter)))
        }
        directory.authenticate(clientID: credentials.clientID, secret: credentials.secret) { outcome in
            switch outcome {
            case .failure(let error):
                logger.warning("client authentication failed closed", ["error": .string(error.description), "http.route": .string(endpoint)])
                completion(.failure(.unavailable("store_unavailable")))
            case .success(let result):
                if let client = result.client { return completion(.success(client)) }
                limiter.recordFailure(clientID: credentials.clientID, address: context.remoteAddress, method: credentials.method.rawValue)
                let reason = result.failure ?? "unknown"
                let known = reason != AuthenticateResult.Failure.unknownClient.rawValue
                metrics.tokenRequestsRefused.increment([reason, known ? credentials.clientID : ""])
                logger.info("client authentication refused", ["audit": "client.refused", "oauth.reason": .string(reason),
                    "http.route": .string(endpoint), "net.peer": .string(context.remoteAddress),
                    "oauth.client_id": known ? .string(credentials.clientID) : .null])
                completion(.failure(.invalidClient(reason: reason)))
            }
        }
    }
}
