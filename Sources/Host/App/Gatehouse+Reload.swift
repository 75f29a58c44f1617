import Dispatch
import PluginProtocol
import Synchronization

/// What a running host can change without a restart, and the reload that SIGHUP triggers
/// (Docs/operations.md, "Signals and exit codes").
final class ReloadTargets: Sendable {
    let limiter: FailureRateLimiter
    let reloadSigningKeys: @Sendable () -> Void
    /// The config the last reload applied, so the next one reports only what changed since.
    let applied: Mutex<HostConfig>

    init(config: HostConfig, limiter: FailureRateLimiter, reloadSigningKeys: @escaping @Sendable () -> Void) {
        self.limiter = limiter
        self.reloadSigningKeys = reloadSigningKeys
        applied = Mutex(config)
    }
}

extension Gatehouse {
    /// What a reload did, for the log and the tests.
    public struct ReloadReport: Sendable {
        /// Settings applied now (`log_level`, `rate_limit`, `signing_keys`, `plugins.policy`, ...).
        public var applied: [String] = []
        /// Keys that changed in the file but take effect only after a restart.
        public var needRestart: [String] = []
        /// Plugins whose reload failed; each keeps its previous configuration.
        public var failed: [String] = []
    }

    /// Applies what can change while serving: log level, failed-authentication limits, signing keys (re-read
    /// now), and each plugin's own configuration (`reload` sent to every process). Keys that need a restart
    /// are reported, not applied. Never stops serving: a plugin whose reload fails keeps its old config.
    @discardableResult
    public func reload(_ new: HostConfig) -> ReloadReport {
        var new = new
        new.resolvePluginDefaults()
        var report = ReloadReport()
        let previous = reloadTargets.applied.withLock { $0 }
        if new.logLevel != previous.logLevel {
            logger.setMinimumLevel(new.logLevel)
            report.applied.append("log_level")
        }
        if "\(new.rateLimits)" != "\(previous.rateLimits)" {
            reloadTargets.limiter.update(perAddress: new.rateLimits.perAddress, perClientAddress: new.rateLimits.perClient,
                                         perClient: new.rateLimits.perClientTotal)
            report.applied.append("rate_limit")
        }
        reloadTargets.reloadSigningKeys()
        report.applied.append("signing_keys")
        report.needRestart = Self.restartOnlyChanges(from: config, to: new)
        reloadTargets.applied.withLock { $0 = new }
        for pool in [store, policy] {
            switch reloadPlugin(pool) {
            case .success(true): report.applied.append("plugins.\(pool.name)")
            case .success(false): break
            case .failure: report.failed.append("plugins.\(pool.name)")
            }
        }
        var fields: [String: JSONValue] = ["reload.applied": .array(report.applied.map { .string($0) }),
                                           "log.level": .string(new.logLevel.name)]
        if !report.needRestart.isEmpty { fields["reload.restart_required"] = .array(report.needRestart.map { .string($0) }) }
        if !report.failed.isEmpty { fields["reload.failed"] = .array(report.failed.map { .string($0) }) }
        if report.needRestart.isEmpty && report.failed.isEmpty {
            logger.info("reloaded", fields)
        } else {
            logger.warning(report.failed.isEmpty ? "reloaded; some changes need a restart" : "reloaded with failures; the old settings stay where a reload failed", fields)
        }
        return report
    }

    /// Sends `reload` to every process of a plugin. Success(true): at least one process re-read its config;
    /// success(false): the plugin has no `reload` method; failure: a process refused or did not answer.
    private func reloadPlugin(_ pool: PluginPool) -> Result<Bool, PluginCallError> {
        let outcomes = pool.callEveryProcess(method: Lifecycle.reload.name, params: .null)
        var reloaded = false
        for outcome in outcomes {
            switch outcome {
            case .success(let json):
                let result = (try? ReloadResult(json: json)) ?? ReloadResult(changed: false)
                logger.info("plugin reloaded", ["plugin.name": .string(pool.name), "plugin.changed": .bool(result.changed),
                                                "plugin.detail": .string(result.detail)])
                reloaded = true
            case .failure(.remote(_, let error)) where error.code == .methodNotFound:
                logger.info("plugin has no reload method; restart it to apply changes to its own config",
                            ["plugin.name": .string(pool.name)])
                return .success(false)
            case .failure(let error):
                logger.error("plugin reload failed; it keeps its previous configuration",
                             ["plugin.name": .string(pool.name), "error": .string(error.description)])
                return .failure(error)
            }
        }
        return .success(reloaded)
    }

    /// Config keys whose change needs a restart (the listener, the data directory, token settings, plugin
    /// commands and config): compared so the operator is told, not silently ignored.
    static func restartOnlyChanges(from old: HostConfig, to new: HostConfig) -> [String] {
        func same(_ a: PluginSpec, _ b: PluginSpec) -> Bool {
            // Compared member by member: JSON objects are dictionaries, whose printed order is not stable.
            func settings(_ spec: PluginSpec) -> String {
                "\(spec.command) \(spec.arguments) \(spec.environment.sorted { $0.key < $1.key }) \(spec.poolSize) "
                    + "\(spec.callTimeout) \(spec.startTimeout) \(spec.shutdownGrace) \(spec.maxLineLength) \(spec.restart)"
            }
            return a.config == b.config && settings(a) == settings(b)
        }
        let checks: [(String, Bool)] = [
            ("listen", old.listenHost != new.listenHost || old.listenPort != new.listenPort),
            ("data_dir", old.dataDirectory != new.dataDirectory),
            ("issuer", old.effectiveIssuer != new.effectiveIssuer),
            ("audience", old.audience != new.audience),
            ("token", old.defaultTokenLifetime != new.defaultTokenLifetime || old.maxTokenLifetime != new.maxTokenLifetime),
            ("access_log", old.accessLog != new.accessLog),
            ("http", "\(old.http)" != "\(new.http)"),
            ("trusted_proxies", old.trustedProxies != new.trustedProxies),
            ("plugins.store", !same(old.store, new.store)),
            ("plugins.policy", !same(old.policy, new.policy)),
        ]
        return checks.filter(\.1).map(\.0)
    }
}

extension PluginPool {
    /// Calls `method` on every ready process and waits for all answers (a reload must reach each process,
    /// not only the least busy one).
    func callEveryProcess(method: String, params: JSONValue) -> [Result<JSONValue, PluginCallError>] {
        let connections = readyConnections
        guard !connections.isEmpty else {
            return [.failure(.unavailable(plugin: spec.name, reason: "no ready process"))]
        }
        let outcomes = Mutex<[Result<JSONValue, PluginCallError>]>([])
        let group = DispatchGroup()
        for connection in connections {
            group.enter()
            connection.call(method: method, params: params, timeout: spec.callTimeout) { outcome in
                outcomes.withLock { $0.append(outcome) }
                group.leave()
            }
        }
        group.wait()
        return outcomes.withLock { $0 }
    }
}
