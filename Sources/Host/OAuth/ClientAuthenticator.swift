import CryptoPrimitives
import Glibc
import PluginProtocol

/// Client authentication for every OAuth endpoint (token, revocation, introspection): the failure rate limit,
/// the store, and one way of recording refusals, so that all endpoints count and audit them alike.
///
/// A class: every step's completion captures it, and a struct of ten references was copied, each retained and
/// released, several times per token.
final class ClientAuthenticator: Sendable {
    /// Why a request was refused, with what may be recorded about who asked.
    struct Refusal: Error {
        var error: OAuthError
        /// A client that exists: may appear in logs and as a metric label.
        var clientID: String?
        /// An id that matched no client: attacker-chosen, or a secret pasted into the wrong field. It is logged
        /// only as a fingerprint and never becomes a label.
        var unknownID: String?
        var pluginError: PluginCallError?

        init(_ error: OAuthError, clientID: String? = nil, unknownID: String? = nil, pluginError: PluginCallError? = nil) {
            self.error = error
            self.clientID = clientID
            self.unknownID = unknownID
            self.pluginError = pluginError
        }
    }

    let directory: ClientDirectory
    let limiter: FailureRateLimiter
    /// Whose `X-Forwarded-For` / `Forwarded` names the client's address (`ClientAddress`).
    let trustedProxies: [IPNetwork]
    /// `private_key_jwt` and the JWT-bearer grant. The default names no audience, so it accepts no assertion.
    let assertions: AssertionVerifier
    /// The keys of clients registered with a `jwksUri`. Without one such clients cannot authenticate.
    let jwksFetcher: JWKSetFetcher?
    let metrics: GatehouseMetrics
    let logger: Logger

    init(directory: ClientDirectory, limiter: FailureRateLimiter, trustedProxies: [IPNetwork],
         assertions: AssertionVerifier = AssertionVerifier(settings: .init(audiences: [])), jwksFetcher: JWKSetFetcher? = nil,
         metrics: GatehouseMetrics, logger: Logger)
    {
        self.directory = directory
        self.limiter = limiter
        self.trustedProxies = trustedProxies
        self.assertions = assertions
        self.jwksFetcher = jwksFetcher
        self.metrics = metrics
        self.logger = logger
    }

    /// `context` with the client's address as the trusted proxies report it: what the limits key on and the audit
    /// lines name. Behind a proxy the socket peer is the proxy, shared by every client.
    func clientContext(_ request: HTTPRequest, _ context: RequestContext) -> RequestContext {
        RequestContext(remoteAddress: ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers,
                                                            trustedProxies: trustedProxies),
                       receivedAt: context.receivedAt)
    }

    /// Authenticates with the failure limits; `context` is the `clientContext`.
    func authenticate(_ credentials: ClientCredentials, context: RequestContext,
                      completion: @escaping @Sendable (Result<ClientRecord, Refusal>) -> Void)
    {
        let attempt = limiter.attempt(clientID: credentials.clientID, address: context.remoteAddress)
        if case .limited(let scope, let retryAfter) = limiter.check(attempt) {
            metrics.rateLimited.increment([scope])
            return completion(.failure(Refusal(.rateLimited(scope: scope, retryAfter: retryAfter), unknownID: credentials.clientID)))
        }
        if let assertion = credentials.assertion {
            return authenticate(assertion: assertion, credentials, context: context, completion: completion)
        }
        // The completion captures what it needs, not the credentials whole (each copy of the closure copied them).
        let (clientID, secret) = (credentials.clientID, credentials.secret)
        directory.authenticate(clientID: clientID, secret: secret) { [self] outcome in
            switch outcome {
            case .failure(let error):
                completion(.failure(Refusal(.unavailable("store_unavailable"), pluginError: error)))
            case .success(let result):
                if let client = result.client {
                    limiter.recordSuccess(attempt)
                    return completion(.success(client))
                }
                limiter.recordFailure(attempt, secret: secret)  // The proof of a secret-based attempt.
                let known = result.failure != AuthenticateResult.Failure.unknownClient.rawValue
                completion(.failure(Refusal(.invalidClient(reason: result.failure ?? "unknown"),
                                            clientID: known ? clientID : nil, unknownID: known ? nil : clientID)))
            }
        }
    }

    /// A client assertion: the client's record (with its keys) from the directory, then `AssertionVerifier`.
    /// Every failure counts for the limits like a wrong secret; for the JWT-bearer grant it is
    /// `invalid_grant` (RFC 7523 §3.1), for client authentication `invalid_client` (§3.2).
    private func authenticate(assertion: String, _ credentials: ClientCredentials, context: RequestContext,
                              completion: @escaping @Sendable (Result<ClientRecord, Refusal>) -> Void)
    {
        let clientID = credentials.clientID
        let lookup: (@escaping @Sendable (Result<ClientRecord?, PluginCallError>) -> Void) -> Void = { [self] done in
            // An id that cannot exist needs no store call; the verifier still does a decoy verification.
            ClientID.isValid(clientID) ? directory.record(clientID, completion: done) : done(.success(nil))
        }
        lookup { [self] outcome in
            switch outcome {
            case .failure(let error):
                completion(.failure(Refusal(.unavailable("store_unavailable"), pluginError: error)))
            case .success(let record):
                guard let record, let url = record.jwksURI else {
                    return conclude(assertion, credentials, record: record, keys: nil, context: context, completion: completion)
                }
                // Keys at a URL: from the fetcher's cache at once, or after a fetch on a worker thread.
                guard let jwksFetcher else {
                    return conclude(assertion, credentials, record: record, keys: [], context: context, completion: completion)
                }
                jwksFetcher.keys(url, keyID: ClientAssertion(assertion)?.keyID) { [self] keys in
                    conclude(assertion, credentials, record: record, keys: keys ?? [], unavailable: keys == nil,
                             context: context, completion: completion)
                }
            }
        }
    }

    /// The verdict on an assertion once the client's keys are known; `unavailable` when its `jwksUri` gave none.
    private func conclude(_ assertion: String, _ credentials: ClientCredentials, record: ClientRecord?, keys: [PublicKeyInfo]?,
                          unavailable: Bool = false, context: RequestContext,
                          completion: @escaping @Sendable (Result<ClientRecord, Refusal>) -> Void)
    {
        assertions.verify(assertion, client: record, keys: keys, now: Int64(time(nil))) { [self] verdict in
            var verdict = verdict
            if unavailable, case .success("unknown_key") = verdict { verdict = .success("jwks_unavailable") }
            finish(verdict, record: record, credentials, context: context, completion: completion)
        }
    }

    private func finish(_ verdict: Result<String?, PluginCallError>, record: ClientRecord?, _ credentials: ClientCredentials,
                        context: RequestContext, completion: @escaping @Sendable (Result<ClientRecord, Refusal>) -> Void)
    {
        let clientID = credentials.clientID
        switch verdict {
        case .failure(let error):
            // The store could not say whether the jti is new: 503 with Retry-After, as when it cannot check a
            // secret. Not the client's fault, so neither invalid_client nor a count against its limits.
            completion(.failure(Refusal(.unavailable("store_unavailable"), clientID: clientID, pluginError: error)))
        case .success(nil) where record != nil:
            limiter.recordSuccess(clientID: clientID, address: context.remoteAddress)
            if let record { completion(.success(record)) }
        case .success(let reason):
            limiter.recordFailure(clientID: clientID, address: context.remoteAddress, secret: credentials.proof)
            let error: OAuthError = credentials.method == .jwtBearerGrant ? .invalidGrant(reason: reason ?? "unknown")
                : .invalidClient(reason: reason ?? "unknown")
            completion(.failure(Refusal(error, clientID: record == nil ? nil : clientID, unknownID: record == nil ? clientID : nil)))
        }
    }

    /// For the endpoints that take a `token` and client credentials (revocation RFC 7009 §2.1, introspection
    /// RFC 7662 §2.1): parses both, authenticates the client, and answers every refusal itself (recorded as
    /// `client.refused` on `route`). `next` runs only for an authenticated client.
    func authenticateTokenRequest(_ request: HTTPRequest, context: RequestContext, route: String,
                                  completion: @escaping @Sendable (HTTPResponse) -> Void,
                                  next: @escaping @Sendable (_ token: String, _ client: ClientRecord) -> Void)
    {
        let context = clientContext(request, context)
        let parsed = OAuthForm.tokenAndCredentials(request)
        guard case .success(let (tokenText, credentials)) = parsed else {
            if case .failure(let error) = parsed { completion(error.response) }
            return
        }
        authenticate(credentials, context: context) { [self] outcome in
            switch outcome {
            case .failure(let refusal):
                record(refusal, audit: "client.refused", route: route, context: context)
                completion(refusal.error.response)
            case .success(let client): next(tokenText, client)
            }
        }
    }

    /// Counts and audits a refusal; `audit` names the event (`token.refused`, `client.refused`).
    func record(_ refusal: Refusal, audit: String, route: String, context: RequestContext) {
        let error = refusal.error
        metrics.tokenRequestsRefused.increment([error.auditReason, refusal.clientID ?? ""])
        var fields: [String: JSONValue] = ["audit": .string(audit), "oauth.error": .string(error.code),
                                           "oauth.reason": .string(error.auditReason), "http.route": .string(route),
                                           "net.peer": .string(context.remoteAddress)]
        if let clientID = refusal.clientID { fields["oauth.client_id"] = .string(clientID) }
        // Hashed for known clients too: an unknown id must not answer faster or slower for skipping the work.
        let fingerprint = SHA256.hash(Array((refusal.unknownID ?? refusal.clientID ?? "").utf8)).prefix(6).map { byte in
            (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        if refusal.unknownID != nil { fields["oauth.unknown_client_fingerprint"] = .string(fingerprint) }
        if let pluginError = refusal.pluginError { fields["error"] = .string(pluginError.description) }
        logger.log(refusal.pluginError == nil ? .info : .warning, "request refused", fields)
    }
}
