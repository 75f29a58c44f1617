import CryptoPrimitives
import Glibc
import PluginProtocol

/// `POST /api/v1/oauth/token`: the client credentials grant (RFC 6749 §4.4).
public final class TokenEndpoint: Sendable {
    struct Settings: Sendable {
        var defaultLifetime: Int64
        var maxLifetime: Int64
    }

    let codec: TokenCodecSource
    let directory: ClientDirectory
    let policy: any PluginEndpoint
    let settings: Settings
    let grants = DecisionCache<GrantParams, GrantResult>()
    let limiter: FailureRateLimiter
    let metrics: GatehouseMetrics
    let logger: Logger

    init(codec: TokenCodecSource, directory: ClientDirectory, policy: any PluginEndpoint, settings: Settings,
         limiter: FailureRateLimiter, metrics: GatehouseMetrics, logger: Logger)
    {
        self.codec = codec
        self.directory = directory
        self.policy = policy
        self.settings = settings
        self.limiter = limiter
        self.metrics = metrics
        self.logger = logger
    }

    func handle(_ request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let parsed = parse(request)
        guard case .success(let (credentials, requestedScopes)) = parsed else {
            if case .failure(let error) = parsed { refuse(error, clientID: nil, context: context, completion) }
            return
        }
        if case .limited(let scope, let retryAfter) = limiter.check(clientID: credentials.clientID, address: context.remoteAddress) {
            metrics.rateLimited.increment([scope])
            return refuse(.rateLimited(scope: scope, retryAfter: retryAfter), clientID: nil, attemptedID: credentials.clientID,
                          context: context, completion)
        }
        directory.authenticate(clientID: credentials.clientID, secret: credentials.secret) { [self] outcome in
            switch outcome {
            case .failure(let error):
                refuse(.unavailable("store_unavailable"), clientID: nil, context: context, completion, pluginError: error)
            case .success(let result):
                guard let client = result.client else {
                    limiter.recordFailure(clientID: credentials.clientID, address: context.remoteAddress, method: credentials.method.rawValue)
                    // An unknown id is attacker-chosen (or a secret pasted into the wrong field): it never becomes
                    // a metric label, and the log gets only its fingerprint.
                    let known = result.failure != AuthenticateResult.Failure.unknownClient.rawValue
                    refuse(.invalidClient(reason: result.failure ?? "unknown"), clientID: known ? credentials.clientID : nil,
                           attemptedID: known ? nil : credentials.clientID, context: context, completion)
                    return
                }
                grant(client, requestedScopes, credentials.method, context: context, completion)
            }
        }
    }

    // MARK: - Steps

    /// Everything that can be refused without a plugin, refused first and cheaply.
    private func parse(_ request: HTTPRequest) -> Result<(ClientCredentials, [String]?), OAuthError> {
        OAuthForm.parse(request).flatMap { form in
            guard let grant = form["grant_type"] else { return .failure(.invalidRequest("missing grant_type")) }
            guard grant == "client_credentials" else { return .failure(.unsupportedGrantType(grant)) }
            var scopes: [String]?
            if let scope = form["scope"], !scope.isEmpty {
                // §3.3: space-delimited scope tokens.
                let tokens = scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard !tokens.isEmpty, tokens.allSatisfy(Scope.isValid) else {
                    return .failure(.invalidScope("scope must be space-separated scope tokens (RFC 6749 §3.3)"))
                }
                scopes = tokens
            }
            return OAuthForm.credentials(of: request, form: form).map { ($0, scopes) }
        }
    }

    private func grant(_ client: ClientRecord, _ requested: [String]?, _ method: ClientCredentials.Method,
                       context: RequestContext, _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        let subject = PolicySubject(clientID: client.id, role: client.role, allowedScopes: client.allowedScopes,
                                    defaultScopes: client.defaultScopes)
        let params = GrantParams(client: subject, requestedScopes: requested)
        let decide: @Sendable (GrantResult) -> Void = { [self] decision in
            if !decision.granted || decision.scopes.isEmpty {
                refuse(.invalidScope(decision.reason), clientID: client.id, context: context, completion)
            } else {
                issue(client, scopes: decision.scopes, method: method, context: context, completion)
            }
        }
        // The key holds everything the answer depends on, so a changed client misses the cache.
        if let cached = grants.lookup(params) { return decide(cached) }
        policy.call(Policy.grant, params) { [self] outcome in
            switch outcome {
            case .failure(let error):
                refuse(.unavailable("policy_unavailable"), clientID: client.id, context: context, completion, pluginError: error)
            case .success(let decision):
                grants.store(params, decision, ttlMilliseconds: decision.cacheTTLMilliseconds)
                decide(decision)
            }
        }
    }

    private func issue(_ client: ClientRecord, scopes: [String], method: ClientCredentials.Method, context: RequestContext,
                       _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        let now = Int64(time(nil))
        let lifetime = min(client.tokenLifetime ?? settings.defaultLifetime, settings.maxLifetime)
        guard let tokenID = try? SecureRandom.token(byteCount: 16) else {
            return refuse(.unavailable("random_source_failed"), clientID: client.id, context: context, completion)
        }
        let codec = self.codec.current
        let token = AccessToken(issuer: codec.issuer, clientID: client.id, audience: codec.audience, issuedAt: now,
                                expiresAt: now + lifetime, tokenID: tokenID, scopes: scopes)
        let scope = scopes.joined(separator: " ")
        metrics.tokensIssued.increment([client.id])
        logger.info("token issued", ["audit": "token.issued", "oauth.client_id": .string(client.id), "oauth.scope": .string(scope),
                                     "oauth.jti": .string(tokenID), "oauth.expires_in": .int(lifetime),
                                     "oauth.auth_method": .string(method.rawValue), "net.peer": .string(context.remoteAddress)])
        // §5.1: the token response, never cached.
        completion(.json(200, ["access_token": .string(codec.sign(token)), "token_type": "Bearer", "expires_in": .int(lifetime),
                               "scope": .string(scope)],
                         headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")]))
    }

    private func refuse(_ error: OAuthError, clientID: String?, attemptedID: String? = nil, context: RequestContext,
                        _ completion: @Sendable (HTTPResponse) -> Void, pluginError: PluginCallError? = nil)
    {
        metrics.tokenRequestsRefused.increment([error.auditReason, clientID ?? ""])
        var fields: [String: JSONValue] = ["audit": "token.refused", "oauth.error": .string(error.code),
                                           "oauth.reason": .string(error.auditReason), "net.peer": .string(context.remoteAddress)]
        if let clientID { fields["oauth.client_id"] = .string(clientID) }
        if let attemptedID {
            let digest = SHA256.hash(Array(attemptedID.utf8)).prefix(6).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
            fields["oauth.unknown_client_fingerprint"] = .string(digest)
        }
        if let pluginError { fields["error"] = .string(pluginError.description) }
        logger.log(pluginError == nil ? .info : .warning, "token request refused", fields)
        completion(error.response)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
