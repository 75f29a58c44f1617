import Glibc
import PluginProtocol

/// Who a protected request comes from, once its token passed every check.
public struct Authorized: Sendable {
    public let token: AccessToken
    public let client: ClientRecord
}

/// The bearer check's answer: go on with the request, or send this response instead.
public enum BearerOutcome: Sendable {
    case authorized(Authorized)
    case refused(HTTPResponse)
}

/// RFC 6750 bearer authentication plus the policy check every protected request passes.
///
/// In order: the token is read from `Authorization: Bearer` (§2.1) only; its signature, issuer, audience and
/// times are checked locally; the client must still exist, be enabled and not have voided the token
/// (`notBefore`); finally the policy plugin must allow the token's scopes for this method and path.
/// Failures answer 401 `invalid_token`, 403 `insufficient_scope` or 503, with the §3 challenge.
public final class BearerAuthenticator: Sendable {
    static let realm = "gatehouse"

    let validator: TokenValidator
    let policy: any PluginEndpoint
    let decisions = DecisionCache(Policy.authorize)
    let metrics: GatehouseMetrics
    let logger: Logger

    init(validator: TokenValidator, policy: any PluginEndpoint, metrics: GatehouseMetrics, logger: Logger) {
        self.validator = validator
        self.policy = policy
        self.metrics = metrics
        self.logger = logger
    }

    /// - Parameter host: for forwarded requests, the original `Host` (passed to the policy).
    func authorize(_ request: HTTPRequest, context: RequestContext, host: String? = nil,
                   completion: @escaping @Sendable (BearerOutcome) -> Void)
    {
        let headers = request.headers.values("authorization")
        guard request.query.map({ !FormURLEncodingQuery.contains($0, "access_token") }) ?? true else {
            return refuse(.invalidRequest("send the access token in the Authorization header, not the URL"), completion)
        }
        guard headers.count <= 1 else { return refuse(.invalidRequest("more than one Authorization header"), completion) }
        guard let header = headers.first else { return refuse(.missing, completion) }
        // §2.1: the scheme is case-insensitive. Compared as bytes: this runs for every protected request.
        guard let space = header.utf8.firstIndex(of: UInt8(ascii: " ")),
            header.utf8[..<space].equalsIgnoringASCIICase("bearer")
        else {
            return refuse(.missing, completion)
        }
        let tokenText = header[header.index(after: space)...].trimmingOWS()
        guard !tokenText.isEmpty else { return refuse(.invalidToken("the access token is empty"), completion) }
        validator.validate(tokenText) { [self] outcome in
            switch outcome {
            case .unavailable(let error): refuse(.unavailable(error), completion)
            case .invalid(let description, let clientID): refuse(.invalidToken(description, clientID: clientID), completion)
            case .valid(let token, let client): check(token, client, request, context, host, completion)
            }
        }
    }

    private func check(_ token: AccessToken, _ client: ClientRecord, _ request: HTTPRequest, _ context: RequestContext,
                       _ host: String?, _ completion: @escaping @Sendable (BearerOutcome) -> Void)
    {
        let params = AuthorizeParams(clientID: client.id, role: client.role, scopes: token.scopes,
                                     request: .init(method: request.method, path: String(request.path), host: host,
                                                    remoteAddress: context.remoteAddress))
        decisions.answer(params, from: policy) { [self] outcome in
            switch outcome {
            case .failure(let error): refuse(.unavailable(error), completion)
            case .success(let decision) where decision.allowed:
                metrics.bearerRequests.increment(["allowed"])
                completion(.authorized(Authorized(token: token, client: client)))
            case .success(let decision):
                refuse(.insufficientScope(decision.reason, required: decision.requiredScopes, clientID: client.id), completion)
            }
        }
    }

    /// Forget cached decisions (the policy or a client changed).
    func invalidate() { decisions.removeAll() }

    enum Refusal {
        case missing
        case invalidRequest(String)
        case invalidToken(String, clientID: String? = nil)
        case insufficientScope(String, required: [String], clientID: String)
        case unavailable(PluginCallError)
    }

    private func refuse(_ refusal: Refusal, _ completion: @Sendable (BearerOutcome) -> Void) {
        let response: HTTPResponse
        let outcome: String
        switch refusal {
        case .missing:
            // §3.1: a request without credentials gets the challenge and no error code.
            outcome = "missing_token"
            response = .error(401, code: nil, description: "this endpoint needs an access token: Authorization: Bearer <token>",
                              headers: [("WWW-Authenticate", "Bearer realm=\"\(Self.realm)\""), ("Cache-Control", "no-store")])
        case .invalidRequest(let description):
            outcome = "invalid_request"
            response = Self.challenge(400, "Bearer realm=\"\(Self.realm)\", error=\"invalid_request\", error_description=\"\(ErrorDescription.sanitized(description))\"",
                                      error: "invalid_request", description: description)
        case .invalidToken(let description, let clientID):
            outcome = "invalid_token"
            logger.info("bearer token refused", ["audit": "access.denied", "oauth.reason": .string(description),
                                                 "oauth.client_id": clientID.map { .string($0) } ?? .null])
            response = Self.challenge(401, "Bearer realm=\"\(Self.realm)\", error=\"invalid_token\", error_description=\"\(ErrorDescription.sanitized(description))\"",
                                      error: "invalid_token", description: description)
        case .insufficientScope(let description, let required, let clientID):
            outcome = "insufficient_scope"
            logger.info("request denied by policy", ["audit": "access.denied", "oauth.reason": .string(description),
                                                     "oauth.client_id": .string(clientID)])
            var challenge = "Bearer realm=\"\(Self.realm)\", error=\"insufficient_scope\""
            if !required.isEmpty { challenge += ", scope=\"\(required.joined(separator: " "))\"" }
            response = Self.challenge(403, challenge, error: "insufficient_scope", description: description)
        case .unavailable(let error):
            outcome = "unavailable"
            logger.warning("bearer check failed closed", ["error": .string(error.description), "plugin.name": .string(error.plugin)])
            response = .error(503, code: "temporarily_unavailable", description: "authorization is temporarily unavailable",
                              headers: [("Retry-After", "1")])
        }
        metrics.bearerRequests.increment([outcome])
        completion(.refused(response))
    }

    private static func challenge(_ status: Int, _ header: String, error: String, description: String) -> HTTPResponse {
        .error(status, code: error, description: description, headers: [("WWW-Authenticate", header), ("Cache-Control", "no-store")])
    }
}
