/// What the server calls for each request. The completion may run on any thread, at most once.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext,
                 completion: @escaping @Sendable (HTTPResponse) -> Void)
}

public struct RequestContext: Sendable {
    /// The peer's numeric address (the proxy's, behind one).
    public let remoteAddress: String
    public let receivedAt: MonotonicTime
}

/// Told about every response the server writes, for access logs and metrics.
public protocol HTTPObserver: Sendable {
    func requestCompleted(_ request: HTTPRequest?, _ response: HTTPResponse, context: RequestContext, duration: Duration)
    func connectionRefused(reason: String)
}
