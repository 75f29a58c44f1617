import Dispatch
import PluginProtocol
import Synchronization

/// Runs one plugin process slot: spawns it, performs the handshake, restarts it with backoff when it dies,
/// and shuts it down in order (`shutdown`, `exit`, SIGTERM, SIGKILL).
///
/// Decisions come from `PluginLifecycle`; this class only carries out the actions it returns. Lifecycle
/// events are handled one at a time on a private serial queue; calls read the current connection under a
/// lock and never wait for that queue.
final class PluginSupervisor: Sendable {
    struct Status: Sendable {
        var state: String
        var pid: Int32?
        var restarts: Int
        var lastFailure: String?
        var inFlight: Int
    }

    let spec: PluginSpec
    let slot: Int
    private let logger: Logger
    private let hostVersion: String
    private let queue: DispatchQueue
    private let onNotification: @Sendable (String, JSONValue) -> Void
    /// Called whenever the slot becomes ready, fails for good, or stops.
    private let onStateChange: @Sendable () -> Void

    private struct Inner {
        var lifecycle: PluginLifecycle
        var connection: PluginConnection?
        var connectionGeneration = 0
        /// The generation whose process answered its last probe with an error, and that error: ready, but
        /// reported unavailable until a probe passes (`HealthProbe.Failure.answeredWithError`).
        var unhealthy: (generation: Int, reason: String)?
        var stopWaiters: [@Sendable () -> Void] = []

        /// Ready, but its current process answered the last probe with an error.
        var isUnhealthy: Bool {
            lifecycle.isReady && unhealthy.map { $0.generation == connectionGeneration } == true
        }
    }
    private let inner: Mutex<Inner>

    init(spec: PluginSpec, slot: Int, logger: Logger, hostVersion: String,
         onNotification: @escaping @Sendable (String, JSONValue) -> Void,
         onStateChange: @escaping @Sendable () -> Void)
    {
        self.spec = spec
        self.slot = slot
        self.logger = logger
        self.hostVersion = hostVersion
        self.queue = DispatchQueue(label: "plugin-\(spec.name)-\(slot)")
        self.onNotification = onNotification
        self.onStateChange = onStateChange
        self.inner = Mutex(Inner(lifecycle: PluginLifecycle(policy: spec.restart)))
    }

    func start() { post(.startRequested) }

    /// Shuts the slot down and calls `completion` once the process is gone.
    func stop(completion: @escaping @Sendable () -> Void) {
        inner.withLock { $0.stopWaiters.append(completion) }
        post(.stopRequested)
        // Already stopped: the lifecycle emits nothing, so answer here.
        queue.async { [self] in
            let waiters = inner.withLock { inner -> [@Sendable () -> Void] in
                guard inner.lifecycle.state == .stopped else { return [] }
                defer { inner.stopWaiters = [] }
                return inner.stopWaiters
            }
            waiters.forEach { $0() }
        }
    }

    var status: Status {
        inner.withLock { inner in
            Status(state: inner.isUnhealthy ? "unavailable" : inner.lifecycle.state.name,
                   pid: inner.lifecycle.isReady ? inner.connection?.process.pid : nil,
                   restarts: inner.lifecycle.restarts, lastFailure: inner.lifecycle.lastFailure,
                   inFlight: inner.connection?.inFlight ?? 0)
        }
    }

    /// The connection to call on, if the slot is ready.
    var readyConnection: PluginConnection? {
        inner.withLock { $0.lifecycle.isReady ? $0.connection : nil }
    }

    var unavailableReason: String {
        inner.withLock { inner in
            switch inner.lifecycle.state {
            case .idle: return "not started"
            case .starting: return "starting"
            case .ready: return inner.isUnhealthy ? "unavailable: \(inner.unhealthy?.reason ?? "")" : "ready"
            case .backingOff: return "restarting after: \(inner.lifecycle.lastFailure ?? "a failure")"
            case .failed: return "failed: \(inner.lifecycle.lastFailure ?? "too many crashes")"
            case .stopping, .stopped: return "stopped"
            }
        }
    }

    // MARK: - Events and actions

    private func post(_ event: PluginLifecycle.Event) {
        queue.async { [self] in handle(event) }
    }

    private func handle(_ event: PluginLifecycle.Event) {
        let actions = inner.withLock { $0.lifecycle.handle(event, now: .now()) }
        for action in actions { perform(action) }
    }

    private func perform(_ action: PluginLifecycle.Action) {
        switch action {
        case .spawn(let generation):
            spawn(generation: generation)
        case .terminate(let generation):
            guard let connection = takeConnection(generation: generation) else { return }
            connection.close(.closedByHost)
            reap(connection.process, grace: spec.shutdownGrace)
        case .shutDown(let generation):
            guard let connection = takeConnection(generation: generation) else {
                return post(.stopCompleted)
            }
            DispatchQueue.global().async { [self] in
                shutDownGracefully(connection)
                post(.stopCompleted)
            }
        case .scheduleRetry(let delay):
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(delay.nanosecondsClamped))) { [self] in
                handle(.retryDue)
            }
        case .reportReady(let generation):
            let pid = inner.withLock { $0.connection?.process.pid } ?? 0
            logger.info("plugin ready", ["plugin.pid": .int(Int64(pid)), "plugin.generation": .int(Int64(generation))])
            scheduleProbe(generation: generation)
            onStateChange()
        case .reportDown(let reason, let retryIn):
            logger.warning("plugin down; restarting", ["error": .string(reason), "plugin.retry_ms": .int(retryIn.milliseconds)])
            onStateChange()
        case .reportFailed(let reason, let retryIn):
            logger.error("plugin failed; giving up until cooldown ends",
                         ["error": .string(reason), "plugin.retry_ms": .int(retryIn.milliseconds)])
            onStateChange()
        case .reportStopped:
            let waiters = inner.withLock { inner -> [@Sendable () -> Void] in
                defer { inner.stopWaiters = [] }
                return inner.stopWaiters
            }
            waiters.forEach { $0() }
            onStateChange()
        }
    }

    private func takeConnection(generation: Int) -> PluginConnection? {
        inner.withLock { inner in
            guard inner.connectionGeneration == generation, let connection = inner.connection else { return nil }
            inner.connection = nil
            return connection
        }
    }

    // MARK: - Spawning and handshake

    private func spawn(generation: Int) {
        let process: PluginProcess
        do {
            process = try PluginProcess.spawn(command: spec.command, arguments: spec.arguments,
                                              environment: spec.environment)
        } catch {
            return handle(.startFailed(generation: generation, reason: error.description, permanent: true))
        }
        let connection = PluginConnection(
            plugin: spec.name, process: process, logger: logger.with(["plugin.pid": .int(Int64(process.pid))]),
            maxLineLength: spec.maxLineLength, onNotification: onNotification,
            onClose: { [self] reason in
                guard reason != .closedByHost else { return }
                post(.connectionClosed(generation: generation, reason: reason.description))
            })
        inner.withLock { inner in
            inner.connection = connection
            inner.connectionGeneration = generation
        }
        connection.start()
        let params = InitializeParams(protocolVersions: Lifecycle.supportedVersions, config: spec.config,
                                      hostName: "gatehouse", hostVersion: hostVersion, pluginName: spec.name)
        connection.call(method: Lifecycle.initialize.name, params: params.json, timeout: spec.startTimeout) {
            [self] outcome in
            let event = handshakeEvent(outcome, generation: generation)
            guard case .handshakeSucceeded = event, let probe = spec.healthProbe else { return post(event) }
            // Ready means able to serve: the first probe must pass before the process is reported ready.
            probe.run(on: connection) { [self] failure in
                post(failure.map { .startFailed(generation: generation, reason: "health probe failed: \($0)", permanent: false) } ?? event)
            }
        }
    }

    /// Probes the ready process of `generation` after the probe's interval, and again after each pass; a
    /// failure ends the process as a crash would. A process replaced or stopping meanwhile is not probed.
    private func scheduleProbe(generation: Int) {
        guard let probe = spec.healthProbe else { return }
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(probe.interval.nanosecondsClamped))) { [self] in
            let connection = inner.withLock { inner in
                inner.lifecycle.isReady && inner.connectionGeneration == generation ? inner.connection : nil
            }
            guard let connection else { return }
            probe.run(on: connection) { [self] failure in
                if let failure, !failure.answeredWithError {
                    return post(.connectionClosed(generation: generation, reason: "health probe failed: \(failure)"))
                }
                recordProbe(generation: generation, error: failure?.description)
                scheduleProbe(generation: generation)
            }
        }
    }

    /// Notes whether the ready process of `generation` answered its probe with an error, logging and
    /// reporting each change between healthy and unavailable once.
    private func recordProbe(generation: Int, error: String?) {
        let changed = inner.withLock { inner -> Bool in
            guard inner.connectionGeneration == generation else { return false }
            let wasUnhealthy = inner.isUnhealthy
            inner.unhealthy = error.map { (generation, $0) }
            return wasUnhealthy != inner.isUnhealthy
        }
        guard changed else { return }
        if let error {
            logger.warning("plugin unavailable: its health probe answered with an error; not restarting it",
                           ["error": .string(error)])
        } else {
            logger.info("plugin healthy again: its health probe passed")
        }
        onStateChange()
    }

    private func handshakeEvent(_ outcome: Result<JSONValue, PluginCallError>, generation: Int)
        -> PluginLifecycle.Event
    {
        switch outcome {
        case .failure(.remote(_, let error)):
            // The plugin refused: its version set or our config for it. Retrying cannot change that.
            return .startFailed(generation: generation, reason: "initialize refused: \(error)", permanent: true)
        case .failure(let error):
            return .startFailed(generation: generation, reason: "initialize failed: \(error)", permanent: false)
        case .success(let json):
            let result: InitializeResult
            do {
                result = try InitializeResult(json: json)
            } catch {
                return .startFailed(generation: generation, reason: "invalid initialize result: \(error)",
                                    permanent: true)
            }
            guard Lifecycle.supportedVersions.contains(result.protocolVersion) else {
                return .startFailed(generation: generation,
                    reason: "plugin chose protocol version \(result.protocolVersion), which was not offered",
                    permanent: true)
            }
            if let role = spec.role, result.role != role {
                return .startFailed(generation: generation,
                    reason: "plugin '\(result.name)' is \(Self.article(result.role.rawValue)) \(result.role) plugin; '\(spec.name)' needs \(Self.article(role.rawValue)) \(role) plugin",
                    permanent: true)
            }
            logger.info("plugin initialized", ["plugin.implementation": .string(result.name),
                "plugin.version": .string(result.version), "plugin.protocol": .int(result.protocolVersion)])
            return .handshakeSucceeded(generation: generation)
        }
    }

    // MARK: - Ending processes

    private func shutDownGracefully(_ connection: PluginConnection) {
        let answered = DispatchSemaphore(value: 0)
        connection.call(method: Lifecycle.shutdown.name, params: .null, timeout: spec.shutdownGrace) { _ in
            answered.signal()
        }
        answered.wait()
        connection.notify(method: Lifecycle.exit.name, params: .null)
        connection.close(.closedByHost)
        let process = connection.process
        if let exit = process.waitForExit(timeout: spec.shutdownGrace) {
            logger.info("plugin stopped", ["plugin.exit": .string(exit.description)])
        } else {
            let exit = process.terminate(grace: spec.shutdownGrace)
            logger.warning("plugin did not exit after 'exit'; terminated", ["plugin.exit": .string(exit.description)])
        }
    }

    private func reap(_ process: PluginProcess, grace: Duration) {
        DispatchQueue.global().async { [logger] in
            let exit = process.terminate(grace: grace)
            logger.info("plugin process ended", ["plugin.exit": .string(exit.description)])
        }
    }

    /// "a store plugin", "an example plugin".
    static func article(_ word: String) -> String {
        guard let first = word.lowercased().first else { return "a" }
        return "aeiou".contains(first) ? "an" : "a"
    }
}
