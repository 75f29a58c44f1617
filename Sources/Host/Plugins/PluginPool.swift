import Dispatch
import PluginProtocol
import Synchronization

/// Health of one plugin as readiness reports it.
public struct PluginHealth: Sendable {
    public struct Process: Sendable {
        public var state: String
        public var pid: Int32?
        public var restarts: Int
        public var lastFailure: String?
        public var inFlight: Int
    }
    public var name: String
    public var processes: [Process]
    public var readyCount: Int { processes.filter { $0.state == "ready" }.count }
    public var isReady: Bool { readyCount > 0 }
    public var restarts: Int { processes.reduce(0) { $0 + $1.restarts } }
}

/// Why a plugin did not become ready at start-up.
public struct PluginStartError: Error, Sendable, CustomStringConvertible {
    public let plugin: String
    public let reason: String
    public var description: String { "plugin '\(plugin)' did not start: \(reason)" }
}

/// All processes of one configured plugin (`pool` of them) behind one call interface.
///
/// A call goes to the ready process with the fewest calls in flight; with none ready it fails at once with
/// `.unavailable` (fail fast and closed, never queue behind a restart).
public final class PluginPool: PluginEndpoint {
    public var name: String { spec.name }

    public let spec: PluginSpec
    private let supervisors: [PluginSupervisor]
    private let changes = StateChangeListeners()

    /// - Parameter onNotification: called on a reader thread with the method and params of every
    ///   notification the plugin sends (for example `invalidate`).
    public init(spec: PluginSpec, logger: Logger, hostVersion: String,
                onNotification: @escaping @Sendable (String, JSONValue) -> Void = { _, _ in })
    {
        self.spec = spec
        let changes = self.changes
        self.supervisors = (0..<spec.poolSize).map { slot in
            PluginSupervisor(
                spec: spec, slot: slot,
                logger: logger.with(["plugin.name": .string(spec.name), "plugin.slot": .int(Int64(slot))]),
                hostVersion: hostVersion, onNotification: onNotification,
                onStateChange: { changes.notify() })
        }
    }

    public func start() { supervisors.forEach { $0.start() } }

    /// Calls `listener` whenever a process of the pool becomes ready, goes down, fails for good or stops.
    public func observeStateChanges(_ listener: @escaping @Sendable () -> Void) { _ = changes.add(listener) }

    /// Blocks until every process is ready, or one fails for good, or `timeout` passes.
    public func waitUntilReady(timeout: Duration) -> Result<Void, PluginStartError> {
        let deadline = MonotonicTime.now() + timeout
        let changed = DispatchSemaphore(value: 0)
        let listener = changes.add { changed.signal() }
        defer { changes.remove(listener) }
        while true {
            let statuses = supervisors.map(\.status)
            if statuses.allSatisfy({ $0.state == "ready" }) { return .success(()) }
            if let failed = statuses.first(where: { $0.state == "failed" || $0.state == "stopped" }) {
                return .failure(PluginStartError(plugin: spec.name, reason: failed.lastFailure ?? failed.state))
            }
            let now = MonotonicTime.now()
            guard now < deadline else {
                let reason = statuses.compactMap(\.lastFailure).last ?? "not ready within \(timeout.milliseconds) ms"
                return .failure(PluginStartError(plugin: spec.name, reason: reason))
            }
            _ = changed.wait(timeout: .now() + .nanoseconds(Int(min(deadline.since(now), .milliseconds(50)).nanosecondsClamped)))
        }
    }

    /// The connections of every ready process (for calls that must reach each one, such as `reload`).
    var readyConnections: [PluginConnection] { supervisors.compactMap(\.readyConnection) }

    public var health: PluginHealth {
        PluginHealth(name: spec.name, processes: supervisors.map { supervisor in
            let status = supervisor.status
            return .init(state: status.state, pid: status.pid, restarts: status.restarts,
                         lastFailure: status.lastFailure, inFlight: status.inFlight)
        })
    }

    /// Calls `method` with raw JSON params; `completion` runs on a plugin reader thread (or the caller's
    /// thread when the call fails before it is sent).
    public func call(method: String, params: JSONValue, timeout: Duration? = nil,
                     completion: @escaping @Sendable (Result<JSONValue, PluginCallError>) -> Void)
    {
        var best: PluginConnection?
        var bestLoad = Int.max
        for supervisor in supervisors {
            guard let connection = supervisor.readyConnection else { continue }
            let load = supervisors.count == 1 ? 0 : connection.inFlight
            if load < bestLoad {
                best = connection
                bestLoad = load
            }
        }
        guard let connection = best else {
            return completion(.failure(.unavailable(plugin: spec.name, reason: supervisors[0].unavailableReason)))
        }
        connection.call(method: method, params: params, timeout: timeout ?? spec.callTimeout, completion: completion)
    }

    /// Stops every process in order (`shutdown`, `exit`, SIGTERM, SIGKILL) and waits until all are gone.
    public func shutdown() {
        let group = DispatchGroup()
        for supervisor in supervisors {
            group.enter()
            supervisor.stop { group.leave() }
        }
        group.wait()
    }
}

/// Callbacks run whenever a process of the pool changes state, for waiters such as `waitUntilReady`.
final class StateChangeListeners: Sendable {
    private let listeners = Mutex<(next: Int, all: [Int: @Sendable () -> Void])>((0, [:]))

    func add(_ listener: @escaping @Sendable () -> Void) -> Int {
        listeners.withLock { state in
            state.next += 1
            state.all[state.next] = listener
            return state.next
        }
    }

    func remove(_ key: Int) { listeners.withLock { _ = $0.all.removeValue(forKey: key) } }

    func notify() { listeners.withLock { Array($0.all.values) }.forEach { $0() } }
}
