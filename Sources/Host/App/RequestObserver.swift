
/// Access log and HTTP metrics for every response the server writes.
struct RequestObserver: HTTPObserver {
    let metrics: GatehouseMetrics
    let logger: Logger
    let accessLog: Bool
    /// The route table's label for a path (`Router.routeLabel`): bounded, so metrics keep a fixed label set.
    let routeLabel: @Sendable (Substring) -> String

    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    func requestCompleted(_ request: HTTPRequest?, _ response: HTTPResponse, context: RequestContext, duration: Duration) {
        let route = request.map { routeLabel($0.path) } ?? "unparsed"
        let method = request.map { Self.knownMethods.contains($0.method) ? $0.method : "OTHER" } ?? "NONE"
        metrics.httpRequests.increment([route, method, String(response.status)])
        metrics.httpDuration.observe([route], duration.secondsDouble)
        guard accessLog else { return }
        // The query is never logged: credentials sometimes arrive there by mistake.
        logger.info("request", [
            "http.method": .string(request.map { String($0.method.prefix(16)) } ?? ""),
            "http.path": .string(request.map { String($0.path.prefix(256)) } ?? ""),
            "http.route": .string(route), "http.status": .int(Int64(response.status)),
            "http.duration_ms": .double((duration.secondsDouble * 1e5).rounded() / 100),
            "net.peer": .string(context.remoteAddress),
        ])
    }

    func connectionRefused(reason: String) {
        metrics.connectionsRefused.increment([reason])
    }
}
