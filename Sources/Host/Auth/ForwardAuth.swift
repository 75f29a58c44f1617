import PluginProtocol

/// `GET /api/v1/auth/verify`: authorizes a request on behalf of a reverse proxy (nginx `auth_request`,
/// Traefik and Caddy forward auth). The proxy passes the client's `Authorization` header and describes the
/// original request in forwarded headers; Gatehouse answers 200 (with headers naming the client and scopes
/// for the upstream), 401 or 403 with the RFC 6750 challenge, which the proxy relays.
///
/// Forwarded headers are believed only from `trustedProxies`; from anyone else they are refused, since a
/// client could otherwise ask about any request it likes.
struct ForwardAuth: Sendable {
    let bearer: BearerAuthenticator
    let trustedProxies: [IPNetwork]

    func handle(_ request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        guard trustedProxies.contains(where: { $0.contains(context.remoteAddress) }) else {
            return completion(.error(403, code: "forbidden", description: "forward auth is only for trusted proxies"))
        }
        // Traefik and Caddy send X-Forwarded-Method/-Uri/-Host; the usual nginx config sends X-Original-*.
        let headers = request.headers
        let method = headers["x-forwarded-method"] ?? headers["x-original-method"] ?? "GET"
        let uri = headers["x-forwarded-uri"] ?? headers["x-original-uri"]
        guard let uri, uri.hasPrefix("/") else {
            return completion(.error(400, code: "invalid_request",
                                     description: "missing X-Forwarded-Uri (or X-Original-URI) with the original path"))
        }
        var original = HTTPRequest(method: method.uppercased(), target: uri, version: request.version, headers: request.headers)
        original.body = []
        let host = headers["x-forwarded-host"] ?? headers["x-original-host"]
        let address = ClientAddress.resolve(peer: context.remoteAddress, headers: headers, trustedProxies: trustedProxies)
        let forwarded = RequestContext(remoteAddress: address, receivedAt: context.receivedAt)
        bearer.authorize(original, context: forwarded, host: host) { outcome in
            switch outcome {
            case .authorized(let authorized):
                completion(HTTPResponse(status: 200, headers: [
                    ("X-Gatehouse-Client-Id", authorized.client.id),
                    ("X-Gatehouse-Scope", authorized.token.scopes.joined(separator: " ")),
                    ("Cache-Control", "no-store"),
                ]))
            case .refused(let response):
                completion(response)
            }
        }
    }
}
