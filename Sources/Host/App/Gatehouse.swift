import Dispatch
import Foundation
import Glibc
import PluginProtocol
import Synchronization

/// A running Gatehouse: plugins started and ready, keys loaded, HTTP server listening.
public final class Gatehouse: Sendable {
    public let config: HostConfig
    public let server: HTTPServer
    public let store: PluginPool
    public let policy: PluginPool
    public let metrics: GatehouseMetrics
    let logger: Logger
    private let maintenance: MaintenanceTimer
    /// What SIGHUP can change while serving (Gatehouse+Reload.swift).
    let reloadTargets: ReloadTargets

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts everything in order and returns once the server accepts requests. Failures name their cause
    /// (data directory, keys, a plugin that will not start, a taken port) and leave nothing running.
    public static func start(config: HostConfig, logger: Logger) throws(StartError) -> Gatehouse {
        try Gatehouse(config: config, logger: logger)
    }

    private init(config: HostConfig, logger: Logger) throws(StartError) {
        let started = MonotonicTime.now()
        var config = config
        config.resolvePluginDefaults()
        self.config = config
        self.logger = logger
        try Self.prepareDataDirectory(config.dataDirectory, logger: logger)
        let keyFile = SigningKeyRing.path(in: config.dataDirectory)
        let keysWereLost = access(keyFile, F_OK) != 0 && Self.holdsOtherFiles(config.dataDirectory, than: keyFile)
        let keys: SigningKeyRing
        do {
            keys = try SigningKeyFile.prepare(directory: config.dataDirectory, now: Int64(time(nil)), policy: config.keyPolicy)
        } catch {
            throw StartError(description: "signing keys: \(error)")
        }
        if keysWereLost {
            // A used data directory without its key file: its private keys are gone. Say so, and what it costs.
            logger.error("signing key file was missing from a data directory in use; created new signing keys. Tokens signed "
                         + "by the lost keys verify only while the store still publishes their public keys (until they expire); "
                         + "HS256 tokens issued before now are refused. If it was lost by accident, stop gatehouse, restore it "
                         + "from the backup and start again", ["tokens.key_file": .string(keyFile)])
        }
        let metrics = GatehouseMetrics()
        self.metrics = metrics
        // `invalidate` from the store: clients changed. From the policy: its rules changed.
        let invalidations = InvalidationHub()
        let policyChanges = InvalidationHub()
        let relay: @Sendable (InvalidationHub) -> @Sendable (String, JSONValue) -> Void = { hub in
            { method, params in
                guard method == Lifecycle.invalidate.name else { return }
                hub.invalidate((try? InvalidateParams(json: params))?.clientIDs ?? [])
            }
        }
        store = PluginPool(spec: config.store, logger: logger, hostVersion: BuildInfo.version,
                           onNotification: relay(invalidations))
        policy = PluginPool(spec: config.policy, logger: logger, hostVersion: BuildInfo.version,
                            onNotification: relay(policyChanges))
        metrics.watch([store, policy].map { pool in { pool.health } })
        let sink = logger.sink
        metrics.watchLog { sink.droppedLines }
        store.start()
        policy.start()
        for pool in [store, policy] {
            if case .failure(let error) = pool.waitUntilReady(timeout: pool.spec.startTimeout + .seconds(1)) {
                store.shutdown()
                policy.shutdown()
                throw StartError(description: error.description)
            }
        }

        let codec = TokenCodecSource(codec: TokenCodec(keys: keys, issuer: config.effectiveIssuer, audience: config.audience),
                                     directory: config.dataDirectory, logger: logger, policy: config.keyPolicy)
        let storeEndpoint = InstrumentedEndpoint(store, metrics: metrics)
        let policyEndpoint = InstrumentedEndpoint(policy, metrics: metrics)
        let directory = ClientDirectory(store: storeEndpoint, cacheHits: metrics.credentialCacheHits)
        let keyExchange = SigningKeyExchange(codec: codec, store: storeEndpoint, maxTokenLifetime: config.maxTokenLifetime, logger: logger)
        let revocations = RevocationList()
        let validator = TokenValidator(codec: codec, directory: directory, revocations: revocations)
        let bearer = BearerAuthenticator(validator: validator, policy: policyEndpoint, metrics: metrics, logger: logger)
        let limiter = FailureRateLimiter(perAddress: config.rateLimits.perAddress, perClientAddress: config.rateLimits.perClient,
                                         perClient: config.rateLimits.perClientTotal)
        let usedAssertions = SharedAssertionReplays(store: storeEndpoint, logger: logger)
        let authenticator = ClientAuthenticator(
            directory: directory, limiter: limiter, trustedProxies: config.trustedProxies,
            assertions: AssertionVerifier(settings: config.assertionSettings, shared: usedAssertions),
            jwksFetcher: JWKSetFetcher(settings: config.jwksCacheSettings, logger: logger, fetches: metrics.jwksFetches),
            metrics: metrics, logger: logger)
        reloadTargets = ReloadTargets(config: config, limiter: limiter, reloadSigningKeys: { codec.reloadIfChanged() })
        invalidations.subscribe { ids in
            directory.invalidate(ids)
            bearer.invalidate()
            keyExchange.storeChanged(ids, now: Int64(time(nil)))  // Perhaps another host published or retired a signing key.
            if ids.isEmpty { usedAssertions.storeChanged() }
            // A store that hears of other hosts' changes (postgres-store's NOTIFY) also announces their
            // revocations this way: pull them now rather than at the next one-second sync.
            revocations.sync(from: storeEndpoint)
        }
        // A store process that went down or came back may have missed changes it would have announced.
        store.observeStateChanges { invalidations.invalidate([]) }
        // Revocations must be known before the first request is served: after a restart a revoked token must
        // not work even for a moment. Failing to load them fails the start (fail closed).
        let loaded = DispatchSemaphore(value: 0)
        let loadError = LoadError()
        revocations.sync(from: storeEndpoint) { error in
            loadError.set(error)
            loaded.signal()
        }
        if loaded.wait(timeout: .now() + .nanoseconds(Int(config.store.callTimeout.nanosecondsClamped))) == .timedOut {
            loadError.set(.timedOut(plugin: "store", method: ClientStore.revocations.name, after: config.store.callTimeout))
        }
        if let error = loadError.get() {
            store.shutdown()
            policy.shutdown()
            throw StartError(description: "cannot load revocations from the store: \(error)")
        }
        // Other hosts' keys before the first request, and ours before the first token we sign.
        keyExchange.prepare(now: Int64(time(nil)), timeout: config.store.callTimeout)
        let tokens = TokenEndpoint(codec: codec, authenticator: authenticator, policy: policyEndpoint,
                                   settings: .init(defaultLifetime: config.defaultTokenLifetime, maxLifetime: config.maxTokenLifetime),
                                   metrics: metrics, logger: logger)
        policyChanges.subscribe { _ in
            bearer.invalidate()
            tokens.invalidateDecisions()
        }
        let router = Router(.init(issuer: config.effectiveIssuer, tokenEndpoint: tokens, codec: codec,
                                  revocation: RevocationEndpoint(authenticator: authenticator, codec: codec, revocations: revocations,
                                                                 store: storeEndpoint, logger: logger),
                                  introspection: IntrospectionEndpoint(authenticator: authenticator, validator: validator),
                                  bearer: bearer, forwardAuth: ForwardAuth(bearer: bearer, trustedProxies: config.trustedProxies),
                                  metrics: metrics, plugins: [store, policy]))
        do {
            server = try HTTPServer(host: config.listenHost, port: config.listenPort, limits: config.http.exempting(config.trustedProxies), responder: router,
                                    observer: RequestObserver(metrics: metrics, logger: logger, accessLog: config.accessLog,
                                                              routeLabel: router.routeLabel))
        } catch {
            store.shutdown()
            policy.shutdown()
            throw StartError(description: "\(error)")
        }
        maintenance = MaintenanceTimer(interval: .seconds(1)) {
            revocations.sync(from: storeEndpoint)
            codec.reloadIfChanged()
            keyExchange.tick(now: Int64(time(nil)))
        }
        keyExchange.tick(now: Int64(time(nil)))
        logger.info("gatehouse ready", ["http.listen": .string(HostConfig.authority(config.listenHost, server.port)),
                                        "gatehouse.version": .string(BuildInfo.version),
                                        "gatehouse.data_dir": .string(config.dataDirectory),
                                        "gatehouse.startup_ms": .int(MonotonicTime.now().since(started).milliseconds)])
    }

    /// Stops accepting, finishes requests in flight, then stops the plugins in order.
    public func shutdown(grace: Duration = .seconds(10)) {
        logger.info("shutting down", [:])
        maintenance.cancel()
        server.shutdown(grace: grace)
        store.shutdown()
        policy.shutdown()
        logger.info("stopped", [:])
    }

    /// Whether `directory` holds anything besides `file`: a data directory that has been in use.
    private static func holdsOtherFiles(_ directory: String, than file: String) -> Bool {
        let name = String(file.split(separator: "/").last ?? "")
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.contains { $0 != name && !$0.hasPrefix(name + ".tmp-") }
    }

    private static func prepareDataDirectory(_ path: String, logger: Logger) throws(StartError) {
        var info = stat()
        if stat(path, &info) != 0 {
            guard mkdir(path, 0o700) == 0 else {
                throw StartError(description: "cannot create data directory \(path): \(String(cString: strerror(errno)))")
            }
            return
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw StartError(description: "data directory \(path) is not a directory") }
        guard access(path, W_OK) == 0 else { throw StartError(description: "data directory \(path) is not writable") }
        // Whoever can write here can replace the signing keys or the store's file: refuse, as for a key file
        // others can read.
        if info.st_mode & 0o022 != 0 {
            throw StartError(description: "data directory \(path) is writable by other users (mode \(String(info.st_mode & 0o7777, radix: 8))); run: chmod 700 \(path)")
        }
        if info.st_mode & 0o077 != 0 {
            logger.warning("data directory is accessible to other users; chmod 700 recommended", ["gatehouse.data_dir": .string(path)])
        }
    }
}

/// Fans a plugin's `invalidate` notification out to the caches that depend on what it changed.
final class InvalidationHub: Sendable {
    private let subscribers = Mutex<[@Sendable ([String]) -> Void]>([])

    func subscribe(_ subscriber: @escaping @Sendable ([String]) -> Void) {
        subscribers.withLock { $0.append(subscriber) }
    }

    func invalidate(_ clientIDs: [String]) {
        subscribers.withLock { $0 }.forEach { $0(clientIDs) }
    }
}

/// Runs periodic housekeeping (revocation sync, key reload) on a Dispatch timer until cancelled.
final class MaintenanceTimer: @unchecked Sendable {
    // @unchecked: the timer source is created here and only cancelled afterwards; DispatchSource is
    // thread-safe for cancel.
    private let timer: DispatchSourceTimer

    init(interval: Duration, _ work: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "gatehouse-maintenance"))
        let nanoseconds = Int(interval.nanosecondsClamped)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        timer.setEventHandler(handler: work)
        timer.resume()
    }

    func cancel() { timer.cancel() }
}

/// Carries the initial revocation load's outcome from the store's reader thread to the starting thread.
final class LoadError: Sendable {
    private let error = Mutex<PluginCallError?>(nil)
    func set(_ value: PluginCallError?) { error.withLock { $0 = value } }
    func get() -> PluginCallError? { error.withLock { $0 } }
}
