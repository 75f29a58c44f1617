import CryptoPrimitives
import Dispatch
import Glibc
import PluginProtocol

/// `POST /api/v1/oauth/token`: the client credentials grant (RFC 6749 §4.4) and the JWT-bearer grant (RFC 7523 §2.1).
public final class TokenEndpoint: Sendable {
    struct Settings: Sendable {
        var defaultLifetime: Int64
        var maxLifetime: Int64
    }

    let codec: TokenCodecSource
    let authenticator: ClientAuthenticator
    let policy: any PluginEndpoint
    let settings: Settings
    let grants = DecisionCache(Policy.grant)
    let tokenIDs = TokenIDSource()
    let metrics: GatehouseMetrics
    let logger: Logger

    init(codec: TokenCodecSource, authenticator: ClientAuthenticator, policy: any PluginEndpoint, settings: Settings,
         metrics: GatehouseMetrics, logger: Logger)
    {
        self.codec = codec
        self.authenticator = authenticator
        self.policy = policy
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    func handle(_ request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let context = authenticator.clientContext(request, context)
        let parsed = parse(request)
        guard case .success(let (credentials, requestedScopes)) = parsed else {
            if case .failure(let error) = parsed { refuse(.init(error), context: context, completion) }
            return
        }
        authenticator.authenticate(credentials, context: context) { [self] outcome in
            switch outcome {
            case .failure(let refusal): refuse(refusal, context: context, completion)
            case .success(let client): grant(client, requestedScopes, credentials.method, context: context, completion)
            }
        }
    }

    /// Forget cached grant decisions (the policy's rules changed).
    func invalidateDecisions() { grants.removeAll() }

    // MARK: - Steps

    /// Everything that can be refused without a plugin, refused first and cheaply.
    private func parse(_ request: HTTPRequest) -> Result<(ClientCredentials, [String]?), OAuthError> {
        OAuthForm.parse(request).flatMap { form in
            guard let grant = form["grant_type"] else { return .failure(.invalidRequest("missing grant_type")) }
            guard grant == "client_credentials" || grant == ClientAssertion.grantType else { return .failure(.unsupportedGrantType(grant)) }
            var scopes: [String]?
            if let scope = form["scope"], !scope.isEmpty {
                // §3.3: space-delimited scope tokens.
                let tokens = scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard !tokens.isEmpty, tokens.allSatisfy(Scope.isValid) else {
                    return .failure(.invalidScope("scope must be space-separated scope tokens (RFC 6749 section 3.3)"))
                }
                scopes = tokens
            }
            if grant == ClientAssertion.grantType { return Self.jwtBearerGrant(request, form: form).map { ($0, scopes) } }
            return OAuthForm.credentials(of: request, form: form).map { ($0, scopes) }
        }
    }

    /// RFC 7523 §2.1: `assertion` is the grant and identifies the client (its `sub`), as Prometheus ≥ 3.9
    /// sends it, with no other client authentication. Credentials beside it are refused rather than
    /// weighed against it (RFC 6749 §2.3: one method per request).
    private static func jwtBearerGrant(_ request: HTTPRequest, form: OAuthParameters) -> Result<ClientCredentials, OAuthError> {
        guard let assertion = form["assertion"], !assertion.isEmpty else { return .failure(.invalidRequest("missing assertion")) }
        guard request.headers.values("authorization").isEmpty, form["client_secret"] == nil, form["client_assertion"] == nil else {
            return .failure(.invalidRequest("the jwt-bearer grant authenticates with its assertion alone"))
        }
        let claimed = ClientAssertion.claimedClientID(assertion)
        if let bodyID = form["client_id"], bodyID != claimed {
            return .failure(.invalidRequest("client_id differs from the assertion's subject"))
        }
        return .success(ClientCredentials(clientID: claimed, secret: "", method: .jwtBearerGrant, assertion: assertion))
    }

    private func grant(_ client: ClientRecord, _ requested: [String]?, _ method: ClientCredentials.Method,
                       context: RequestContext, _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        let subject = PolicySubject(clientID: client.id, role: client.role, allowedScopes: client.allowedScopes,
                                    defaultScopes: client.defaultScopes)
        let params = GrantParams(client: subject, requestedScopes: requested)
        // The key holds everything the answer depends on, so a changed client misses the cache.
        grants.answer(params, from: policy) { [self] outcome in
            switch outcome {
            case .failure(let error):
                refuse(.init(.unavailable("policy_unavailable"), clientID: client.id, pluginError: error), context: context, completion)
            case .success(let decision) where !decision.granted || decision.scopes.isEmpty:
                refuse(.init(.invalidScope(decision.reason), clientID: client.id), context: context, completion)
            case .success(let decision):
                // A policy grants from what the client may hold; a grant beyond it is a broken answer (fail closed).
                if let extra = decision.scopes.first(where: { !client.allowedScopes.contains($0) }) {
                    let error = PluginCallError.invalidResult(plugin: policy.name, method: Policy.grant.name,
                                                              detail: "granted scope '\(extra)', which client '\(client.id)' may not hold")
                    return refuse(.init(.unavailable("policy_unavailable"), clientID: client.id, pluginError: error), context: context, completion)
                }
                issue(client, scopes: decision.scopes, method: method, context: context, completion)
            }
        }
    }

    private func issue(_ client: ClientRecord, scopes: [String], method: ClientCredentials.Method, context: RequestContext,
                       _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        let now = Int64(time(nil))
        let lifetime = min(client.tokenLifetime ?? settings.defaultLifetime, settings.maxLifetime)
        guard let tokenID = try? tokenIDs.next() else {
            return refuse(.init(.unavailable("random_source_failed"), clientID: client.id), context: context, completion)
        }
        let codec = self.codec.current
        let token = AccessToken(issuer: codec.issuer, clientID: client.id, audience: codec.audience, issuedAt: now,
                                expiresAt: now + lifetime, tokenID: tokenID, scopes: scopes, clientInstance: client.instance)
        // An RSA signature costs about 0.3 ms: on a plugin's reader thread (a store round trip completed there)
        // it would serialise issuance on one core, so it goes to a worker; on an event loop, one per core, it
        // runs where it is (`LoopThread`). An HMAC costs a microsecond and stays inline anywhere (called
        // directly: a closure for both cases cost its captures' allocation and copies on every token).
        if codec.keys.current.algorithm.isAsymmetric && !LoopThread.mayRunCPUBoundWork {
            DispatchQueue.global().async { [self] in
                sign(token, with: codec, for: client.id, method: method, context: context, completion)
            }
        } else {
            sign(token, with: codec, for: client.id, method: method, context: context, completion)
        }
    }

    private func sign(_ token: AccessToken, with codec: TokenCodec, for clientID: String, method: ClientCredentials.Method,
                      context: RequestContext, _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        let signed: String
        do {
            signed = try codec.sign(token)
        } catch {
            logger.error("cannot sign a token", ["oauth.client_id": .string(clientID), "error": .string("\(error)")])
            return refuse(.init(.unavailable("signing_failed"), clientID: clientID), context: context, completion)
        }
        let scope = token.scopes.joined(separator: " ")
        let lifetime = token.expiresAt - token.issuedAt
        metrics.tokensIssued.increment([clientID])
        logger.info("token issued", ["audit": "token.issued", "oauth.client_id": .string(clientID), "oauth.scope": .string(scope),
                                     "oauth.jti": .string(token.tokenID), "oauth.expires_in": .int(lifetime),
                                     "oauth.auth_method": .string(method.rawValue), "net.peer": .string(context.remoteAddress)])
        // §5.1: the token response, never cached.
        var body = JSONObjectWriter(capacity: signed.utf8.count + 128)
        body.member("access_token", signed)
        body.member("token_type", "Bearer")
        body.member("expires_in", lifetime)
        body.member("scope", scope)
        completion(.json(200, body: body.finish(), headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")]))
    }

    private func refuse(_ refusal: ClientAuthenticator.Refusal, context: RequestContext, _ completion: @Sendable (HTTPResponse) -> Void) {
        authenticator.record(refusal, audit: "token.refused", route: Router.tokenPath, context: context)
        completion(refusal.error.response)
    }
}
