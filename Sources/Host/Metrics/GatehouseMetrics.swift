import PluginProtocol

/// Every metric Gatehouse exports (Docs/operations.md lists them with their labels and meanings).
public struct GatehouseMetrics: Sendable {
    public let registry: MetricsRegistry
    public let httpRequests: MetricFamily
    public let httpDuration: MetricFamily
    public let connectionsRefused: MetricFamily
    public let tokensIssued: MetricFamily
    public let tokenRequestsRefused: MetricFamily
    public let bearerRequests: MetricFamily
    public let rateLimited: MetricFamily
    public let credentialCacheHits: MetricFamily
    public let pluginCalls: MetricFamily
    public let pluginCallDuration: MetricFamily
    public let jwksFetches: MetricFamily

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        httpRequests = registry.counter("gatehouse_http_requests_total", help: "HTTP requests answered, by route, method and status.",
                                        labels: ["route", "method", "status"])
        httpDuration = registry.histogram("gatehouse_http_request_duration_seconds",
                                          help: "Time from a complete request to its response being written.", labels: ["route"])
        connectionsRefused = registry.counter("gatehouse_http_connections_refused_total",
                                              help: "Connections refused before any request, by reason.", labels: ["reason"])
        tokensIssued = registry.counter("gatehouse_tokens_issued_total", help: "Access tokens issued, by client.",
                                        labels: ["client_id"])
        tokenRequestsRefused = registry.counter("gatehouse_token_requests_refused_total",
            help: "Token requests refused, by reason and client (client_id is empty when the client is unknown).",
            labels: ["reason", "client_id"])
        rateLimited = registry.counter("gatehouse_auth_rate_limited_total",
                                       help: "Client authentications refused by the failure rate limit, by limit (client or address).",
                                       labels: ["limit"])
        credentialCacheHits = registry.counter("gatehouse_client_auth_cache_hits_total",
            help: "Client authentications answered from the host's cache of store-approved credentials, without a store call.",
            labels: [])
        credentialCacheHits.increment([], by: 0)  // Exported as 0 before the first hit.
        bearerRequests = registry.counter("gatehouse_bearer_requests_total",
                                          help: "Requests to protected routes, by outcome.", labels: ["outcome"])
        pluginCalls = registry.counter("gatehouse_plugin_calls_total", help: "Plugin calls, by plugin, method and outcome.",
                                       labels: ["plugin", "method", "outcome"])
        pluginCallDuration = registry.histogram("gatehouse_plugin_call_duration_seconds", help: "Plugin call round-trip time.",
                                                labels: ["plugin", "method"])
        jwksFetches = registry.counter("gatehouse_jwks_fetches_total",
                                       help: "Fetches of clients' JWK Sets (clients with a jwks uri), by outcome (ok, failed).",
                                       labels: ["outcome"])
        for outcome in ["ok", "failed"] { jwksFetches.increment([outcome], by: 0) }
        registry.collect {
            [MetricFamily.Snapshot(name: "gatehouse_build_info", help: "Build information; always 1.", type: "gauge",
                                   samples: [.init(labels: [("version", BuildInfo.version)], value: 1)])]
                + ProcessMetrics.snapshots()
        }
    }

    /// Exports plugin health at scrape time: up/down and restarts per plugin. Each closure reads one plugin's
    /// health, so the metrics know nothing of how plugins are run (a pool, or a stand-in in tests).
    public func watch(_ plugins: [@Sendable () -> PluginHealth]) {
        registry.collect {
            let health = plugins.map { $0() }
            return [
                MetricFamily.Snapshot(name: "gatehouse_plugin_up", help: "1 if at least one process of the plugin is ready.",
                                      type: "gauge", samples: health.map { .init(labels: [("plugin", $0.name)], value: $0.isReady ? 1 : 0) }),
                MetricFamily.Snapshot(name: "gatehouse_plugin_restarts_total", help: "Plugin process restarts after a failure.",
                                      type: "counter", samples: health.map { .init(labels: [("plugin", $0.name)], value: Double($0.restarts)) }),
                MetricFamily.Snapshot(name: "gatehouse_plugin_processes_ready", help: "Ready processes per plugin.",
                                      type: "gauge", samples: health.map { .init(labels: [("plugin", $0.name)], value: Double($0.readyCount)) }),
            ]
        }
    }

    /// Exports the log lines lost because the log output did not keep up (see `BufferedLogSink`).
    public func watchLog(droppedLines: @escaping @Sendable () -> UInt64) {
        registry.collect {
            [MetricFamily.Snapshot(name: "gatehouse_log_lines_dropped_total",
                                   help: "Log lines dropped because the log output (stderr) did not keep up.",
                                   type: "counter", samples: [.init(value: Double(droppedLines()))])]
        }
    }
}
