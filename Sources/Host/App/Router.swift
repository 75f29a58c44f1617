import PluginProtocol

/// Maps requests to Gatehouse's endpoints. Protected routes go through the bearer check first.
struct Router: HTTPResponder {
    static let tokenPath = "/api/v1/oauth/token"
    static let metricsPath = "/api/v1/metrics"
    static let statusPath = "/api/v1/status"
    static let readyPath = "/api/v1/status/ready"
    static let verifyPath = "/api/v1/auth/verify"
    static let revokePath = "/api/v1/oauth/revoke"
    static let introspectPath = "/api/v1/oauth/introspect"

    let tokenEndpoint: TokenEndpoint
    let revocation: RevocationEndpoint
    let introspection: IntrospectionEndpoint
    let discovery: HTTPResponse
    let bearer: BearerAuthenticator
    let forwardAuth: ForwardAuth
    let metrics: GatehouseMetrics
    let plugins: [PluginPool]

    func respond(to request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        switch request.path {
        case Self.tokenPath:
            guard request.method == "POST" else { return completion(Self.methodNotAllowed("POST")) }
            tokenEndpoint.handle(request, context: context, completion: completion)
        case Self.metricsPath:
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            protected(request, context, completion) { _ in
                .text(200, metrics.registry.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        case Self.revokePath:
            guard request.method == "POST" else { return completion(Self.methodNotAllowed("POST")) }
            revocation.handle(request, context: context, completion: completion)
        case Self.introspectPath:
            guard request.method == "POST" else { return completion(Self.methodNotAllowed("POST")) }
            introspection.handle(request, context: context, completion: completion)
        case Discovery.path:
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            completion(discovery)
        case Self.verifyPath:
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            forwardAuth.handle(request, context: context, completion: completion)
        case Self.statusPath:
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            completion(.json(200, ["status": "ok", "version": .string(BuildInfo.version)], headers: [("Cache-Control", "no-store")]))
        case Self.readyPath:
            guard request.method == "GET" || request.method == "HEAD" else { return completion(Self.methodNotAllowed("GET, HEAD")) }
            completion(readiness())
        default:
            completion(.json(404, ["error": "not_found", "error_description": "no such endpoint"]))
        }
    }

    /// Runs `handler` only for requests whose bearer token and policy allow them.
    private func protected(_ request: HTTPRequest, _ context: RequestContext, _ completion: @escaping @Sendable (HTTPResponse) -> Void,
                           _ handler: @escaping @Sendable (Authorized) -> HTTPResponse)
    {
        bearer.authorize(request, context: context) { outcome in
            switch outcome {
            case .authorized(let authorized): completion(handler(authorized))
            case .refused(let response): completion(response)
            }
        }
    }

    /// Ready when every plugin has a process ready; the body says which is not (no pids or error text:
    /// this endpoint is public).
    private func readiness() -> HTTPResponse {
        var states: [String: JSONValue] = [:]
        var ready = true
        for pool in plugins {
            let health = pool.health
            states[pool.name] = .string(health.isReady ? "ready" : (health.processes.first?.state ?? "down"))
            ready = ready && health.isReady
        }
        return .json(ready ? 200 : 503, ["status": .string(ready ? "ready" : "not_ready"), "plugins": .object(states)],
                     headers: [("Cache-Control", "no-store")] + (ready ? [] : [("Retry-After", "1")]))
    }

    private static func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        var response = HTTPResponse.json(405, ["error": "method_not_allowed", "error_description": .string("use \(allowed)")])
        response.headers.append((name: "Allow", value: allowed))
        return response
    }

    /// A bounded label for metrics: known routes by name, everything else as `other`.
    static func routeLabel(_ path: Substring) -> String {
        switch path {
        case tokenPath, metricsPath, statusPath, readyPath, verifyPath, revokePath, introspectPath, Discovery.path: return String(path)
        default: return "other"
        }
    }
}
