/// Limits of the HTTP server (Docs/configuration.md, `http`).
public struct HTTPLimits: Sendable {
    /// Event loops, one thread each; 0 means one per core.
    public var threads = 0
    public var maxConnections = 10_000
    public var maxHeaderBytes = 16 * 1024
    public var maxHeaderCount = 100
    public var maxBodyBytes = 64 * 1024
    public var headerTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(60)

    public init() {}
}
