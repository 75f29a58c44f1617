/// The life of one plugin process slot, as a pure state machine: events in, actions out.
///
/// ```
///  idle ──start──▶ starting ──handshake ok──▶ ready
///                    │  ▲                        │ closed (crash, EOF, violation, hung)
///        start failed│  │retry due               ▼
///                    ▼  │                   backingOff (exponential) ──N failures in window──▶ failed (cooldown)
///  any ──stop──▶ stopping ──stopped──▶ stopped
/// ```
/// Each spawn gets a new generation; events about an older generation are stale and ignored, so a late
/// "closed" from a process already replaced cannot take down its successor.
struct PluginLifecycle: Sendable {
    enum State: Sendable, Equatable {
        case idle
        case starting(generation: Int)
        case ready(generation: Int, since: MonotonicTime)
        case backingOff(until: MonotonicTime)
        case failed(until: MonotonicTime)
        case stopping
        case stopped

        var name: String {
            switch self {
            case .idle: return "idle"
            case .starting: return "starting"
            case .ready: return "ready"
            case .backingOff: return "backing_off"
            case .failed: return "failed"
            case .stopping: return "stopping"
            case .stopped: return "stopped"
            }
        }
    }

    enum Event: Sendable, Equatable {
        case startRequested
        case handshakeSucceeded(generation: Int)
        /// The process could not be spawned or refused the handshake. `permanent`: retrying cannot help
        /// (version mismatch, configuration refused, wrong role).
        case startFailed(generation: Int, reason: String, permanent: Bool)
        case connectionClosed(generation: Int, reason: String)
        case retryDue
        case stopRequested
        case stopCompleted
    }

    enum Action: Sendable, Equatable {
        case spawn(generation: Int)
        /// End the process of that generation (it may already be dead) and reap it.
        case terminate(generation: Int)
        /// Ask the process of that generation to shut down gracefully, then report `stopCompleted`.
        case shutDown(generation: Int)
        case scheduleRetry(after: Duration)
        case reportReady(generation: Int)
        case reportDown(reason: String, retryIn: Duration)
        case reportFailed(reason: String, retryIn: Duration)
        case reportStopped
    }

    let policy: RestartPolicy
    private(set) var state = State.idle
    private(set) var generation = 0
    /// Failures since the last stable run; sets the backoff.
    private(set) var consecutiveFailures = 0
    private(set) var failureTimes: [MonotonicTime] = []
    private(set) var restarts = 0
    private(set) var lastFailure: String?

    init(policy: RestartPolicy) { self.policy = policy }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    mutating func handle(_ event: Event, now: MonotonicTime) -> [Action] {
        switch (state, event) {
        case (.idle, .startRequested):
            return spawnNext()

        case (.starting(let current), .handshakeSucceeded(let generation)) where generation == current:
            state = .ready(generation: generation, since: now)
            return [.reportReady(generation: generation)]

        case (.starting(let current), .startFailed(let generation, let reason, let permanent)) where generation == current:
            return fail(generation: generation, reason: reason, permanent: permanent, stable: false, now: now)

        case (.starting(let current), .connectionClosed(let generation, let reason)) where generation == current:
            return fail(generation: generation, reason: reason, permanent: false, stable: false, now: now)

        case (.ready(let current, let since), .connectionClosed(let generation, let reason)) where generation == current:
            let stable = now.since(since) >= policy.stableAfter
            return fail(generation: generation, reason: reason, permanent: false, stable: stable, now: now)

        case (.backingOff, .retryDue), (.failed, .retryDue):
            restarts += 1
            return spawnNext()

        case (.starting(let generation), .stopRequested), (.ready(let generation, _), .stopRequested):
            state = .stopping
            return [.shutDown(generation: generation)]

        case (.idle, .stopRequested), (.backingOff, .stopRequested), (.failed, .stopRequested):
            state = .stopped
            return [.reportStopped]

        case (.stopping, .stopCompleted):
            state = .stopped
            return [.reportStopped]

        default:
            // Stale generations, timers that fire after a stop, repeated stops: nothing to do.
            return []
        }
    }

    private mutating func spawnNext() -> [Action] {
        generation += 1
        state = .starting(generation: generation)
        return [.spawn(generation: generation)]
    }

    private mutating func fail(generation: Int, reason: String, permanent: Bool, stable: Bool, now: MonotonicTime)
        -> [Action]
    {
        lastFailure = reason
        if stable { consecutiveFailures = 0 }
        consecutiveFailures += 1
        failureTimes.append(now)
        failureTimes.removeAll { now.since($0) > policy.window }
        if permanent || failureTimes.count >= policy.maxCrashes {
            state = .failed(until: now + policy.cooldown)
            return [.terminate(generation: generation), .reportFailed(reason: reason, retryIn: policy.cooldown),
                    .scheduleRetry(after: policy.cooldown)]
        }
        let backoff = backoffDelay()
        state = .backingOff(until: now + backoff)
        return [.terminate(generation: generation), .reportDown(reason: reason, retryIn: backoff),
                .scheduleRetry(after: backoff)]
    }

    /// `initialBackoff * 2^(failures-1)`, capped at `maxBackoff`.
    private func backoffDelay() -> Duration {
        let exponent = min(consecutiveFailures - 1, 30)
        let delay = policy.initialBackoff * (1 << exponent)
        return min(delay, policy.maxBackoff)
    }
}
