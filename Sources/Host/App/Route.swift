/// One endpoint of the route table (`Router.routes`): the methods it answers, its path, the label its
/// metrics and access log lines carry, whether the bearer check runs first, and the RFC 8414 metadata
/// member that advertises it, if any.
struct Route: Sendable {
    typealias Completion = @Sendable (HTTPResponse) -> Void

    enum Handler: Sendable {
        /// Answers any caller; the handler does its own authentication (the OAuth endpoints) or needs none.
        case open(@Sendable (HTTPRequest, RequestContext, @escaping Completion) -> Void)
        /// Runs only for a request whose bearer token and policy allow it.
        case protected(@Sendable (Authorized) -> HTTPResponse)
    }

    /// In the order `Allow` lists them (RFC 9110 §10.2.1).
    let methods: [String]
    let path: String
    let label: String
    let handler: Handler
    /// The discovery document member whose value is this route's URL (`token_endpoint`, `jwks_uri`, ...).
    let metadataKey: String?

    init(_ methods: [String], _ path: String, label: String? = nil, advertisedAs metadataKey: String? = nil, _ handler: Handler) {
        self.methods = methods
        self.path = path
        self.label = label ?? path
        self.handler = handler
        self.metadataKey = metadataKey
    }

    var isProtected: Bool {
        if case .protected = handler { return true }
        return false
    }

    /// GET routes answer HEAD too (RFC 9110 §9.3.2); the server drops the body.
    static let read = ["GET", "HEAD"]
    static let post = ["POST"]
}
