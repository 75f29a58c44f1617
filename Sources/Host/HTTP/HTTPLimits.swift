/// Limits of the HTTP server (Docs/configuration.md, `http`).
public struct HTTPLimits: Sendable {
    /// Event loops, one thread each; 0 means one per core.
    public var threads = 0
    public var maxConnections = 10_000
    /// Open connections from one peer address; 0 turns the cap off. Behind a proxy every connection comes from it.
    public var maxConnectionsPerAddress = 1_000
    /// Peers the per-address cap does not apply to: the trusted proxies (`trusted_proxies`), whose connections
    /// carry many clients each. They still count against `maxConnections`.
    public var uncappedAddresses: [IPNetwork] = []
    public var maxHeaderBytes = 16 * 1024
    public var maxHeaderCount = 100
    public var maxBodyBytes = 64 * 1024
    public var headerTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(60)
    /// Unsent response bytes per connection beyond which no further request is parsed and nothing is read.
    public var maxOutputBytes = 64 * 1024
    /// A connection whose unsent output makes no progress for this long is closed (a peer that never reads).
    public var writeTimeout: Duration = .seconds(10)

    public init() {}
}

extension HTTPLimits {
    /// These limits with `proxies` exempt from the per-address cap.
    public func exempting(_ proxies: [IPNetwork]) -> HTTPLimits {
        var limits = self
        limits.uncappedAddresses = proxies
        return limits
    }
}
