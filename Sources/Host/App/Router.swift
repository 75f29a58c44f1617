import PluginProtocol

/// Maps requests to Gatehouse's endpoints through one route table: it drives dispatch, the `405` answer and
/// its `Allow` header, the route label of metrics and access logs, and the endpoint URLs of the discovery
/// document. A new endpoint is one line in `routes`.
struct Router: HTTPResponder {
    static let tokenPath = "/api/v1/oauth/token"
    static let metricsPath = "/api/v1/metrics"
    static let statusPath = "/api/v1/status"
    static let readyPath = "/api/v1/status/ready"
    static let verifyPath = "/api/v1/auth/verify"
    static let revokePath = "/api/v1/oauth/revoke"
    static let introspectPath = "/api/v1/oauth/introspect"

    /// What the routes call; built once at start.
    struct Endpoints: Sendable {
        let issuer: String
        let tokenEndpoint: TokenEndpoint
        let codec: TokenCodecSource
        let revocation: RevocationEndpoint
        let introspection: IntrospectionEndpoint
        let bearer: BearerAuthenticator
        let forwardAuth: ForwardAuth
        let metrics: GatehouseMetrics
        let plugins: [PluginPool]
    }

    let routes: [Route]
    let bearer: BearerAuthenticator

    init(_ endpoints: Endpoints) {
        routes = Self.routes(endpoints)
        bearer = endpoints.bearer
    }

    static func routes(_ e: Endpoints) -> [Route] {
        var routes = [
            Route(Route.post, tokenPath, advertisedAs: "token_endpoint", .open(e.tokenEndpoint.handle)),
            Route(Route.read, metricsPath, .protected { _ in
                .text(200, e.metrics.registry.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            }),
            Route(Route.post, revokePath, advertisedAs: "revocation_endpoint", .open(e.revocation.handle)),
            Route(Route.post, introspectPath, advertisedAs: "introspection_endpoint", .open(e.introspection.handle)),
            Route(Route.read, verifyPath, .open(e.forwardAuth.handle)),
            Route(Route.read, statusPath, .open { _, _, completion in
                completion(.json(200, ["status": "ok", "version": .string(BuildInfo.version)], headers: [("Cache-Control", "no-store")]))
            }),
            Route(Route.read, readyPath, .open { _, _, completion in completion(readiness(e.plugins)) }),
            Route(Route.read, JWKSet.path, advertisedAs: "jwks_uri", .open { _, _, completion in completion(e.codec.jwksResponse) }),
        ]
        // RFC 8414 §3: the metadata names the endpoints this table serves, so it cannot advertise one that is not.
        let document = Discovery.document(issuer: e.issuer, endpoints: routes.compactMap { route in
            route.metadataKey.map { ($0, route.path) }
        })
        let discovery = HTTPResponse.json(200, document, headers: [("Cache-Control", "max-age=300")])
        routes.append(Route(Route.read, Discovery.path, .open { _, _, completion in completion(discovery) }))
        return routes
    }

    func respond(to request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let path = request.path
        guard let route = routes.first(where: { $0.path == path }) else {
            return completion(.error(404, code: "not_found", description: "no such endpoint"))
        }
        guard route.methods.contains(request.method) else { return completion(Self.methodNotAllowed(route.methods)) }
        switch route.handler {
        case .open(let handle): handle(request, context, completion)
        case .protected(let handle):
            bearer.authorize(request, context: context) { outcome in
                switch outcome {
                case .authorized(let authorized): completion(handle(authorized))
                case .refused(let response): completion(response)
                }
            }
        }
    }

    /// A bounded label for metrics: known routes by their label, everything else as `other`.
    func routeLabel(_ path: Substring) -> String {
        routes.first { $0.path == path }?.label ?? "other"
    }

    /// Ready when every plugin has a process ready; the body says which is not (no pids or error text:
    /// this endpoint is public).
    private static func readiness(_ plugins: [PluginPool]) -> HTTPResponse {
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

    private static func methodNotAllowed(_ methods: [String]) -> HTTPResponse {
        let allowed = methods.joined(separator: ", ")
        var response = HTTPResponse.error(405, code: "method_not_allowed", description: "use \(allowed)")
        response.headers.append((name: "Allow", value: allowed))
        return response
    }
}
