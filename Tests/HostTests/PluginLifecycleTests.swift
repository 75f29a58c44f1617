import Testing
@testable import Host

@Suite struct PluginLifecycleTests {
    private func policy() -> RestartPolicy {
        var policy = RestartPolicy()
        policy.initialBackoff = .milliseconds(100)
        policy.maxBackoff = .milliseconds(1000)
        policy.maxCrashes = 5
        policy.window = .seconds(60)
        policy.cooldown = .seconds(30)
        policy.stableAfter = .seconds(10)
        return policy
    }

    private func at(_ seconds: Double) -> MonotonicTime { MonotonicTime(nanoseconds: UInt64(seconds * 1e9)) }

    @Test func startsAndBecomesReady() {
        var lifecycle = PluginLifecycle(policy: policy())
        #expect(lifecycle.handle(.startRequested, now: at(0)) == [.spawn(generation: 1)])
        #expect(lifecycle.handle(.handshakeSucceeded(generation: 1), now: at(0.1)) == [.reportReady(generation: 1)])
        #expect(lifecycle.isReady)
    }

    @Test func backoffDoublesUpToTheCap() {
        var lifecycle = PluginLifecycle(policy: policy())
        _ = lifecycle.handle(.startRequested, now: at(0))
        var delays: [Duration] = []
        for attempt in 1...4 {
            let actions = lifecycle.handle(.startFailed(generation: attempt, reason: "boom", permanent: false),
                                           now: at(Double(attempt)))
            for case .scheduleRetry(let delay) in actions { delays.append(delay) }
            #expect(lifecycle.handle(.retryDue, now: at(Double(attempt) + 0.5)) == [.spawn(generation: attempt + 1)])
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
        // The fifth failure in the window gives up until the cooldown ends.
        let actions = lifecycle.handle(.startFailed(generation: 5, reason: "boom", permanent: false), now: at(5))
        #expect(actions == [.terminate(generation: 5), .reportFailed(reason: "boom", retryIn: .seconds(30)),
                            .scheduleRetry(after: .seconds(30))])
        #expect(lifecycle.state == .failed(until: at(35)))
        #expect(lifecycle.restarts == 4)
    }

    @Test func backoffIsCapped() {
        var lifecycle = PluginLifecycle(policy: policy())
        _ = lifecycle.handle(.startRequested, now: at(0))
        var last: Duration = .zero
        // Failures spread over time so the window never fills.
        for attempt in 1...8 {
            let actions = lifecycle.handle(.startFailed(generation: attempt, reason: "x", permanent: false),
                                           now: at(Double(attempt) * 100))
            for case .scheduleRetry(let delay) in actions { last = delay }
            _ = lifecycle.handle(.retryDue, now: at(Double(attempt) * 100 + 1))
        }
        #expect(last == .milliseconds(1000))
    }

    @Test func aPermanentFailureGivesUpAtOnce() {
        var lifecycle = PluginLifecycle(policy: policy())
        _ = lifecycle.handle(.startRequested, now: at(0))
        let actions = lifecycle.handle(.startFailed(generation: 1, reason: "version", permanent: true), now: at(1))
        #expect(actions.contains(.reportFailed(reason: "version", retryIn: .seconds(30))))
        #expect(lifecycle.state.name == "failed")
    }

    @Test func aStableRunResetsTheBackoff() {
        var lifecycle = PluginLifecycle(policy: policy())
        _ = lifecycle.handle(.startRequested, now: at(0))
        _ = lifecycle.handle(.startFailed(generation: 1, reason: "x", permanent: false), now: at(1))
        _ = lifecycle.handle(.retryDue, now: at(2))
        _ = lifecycle.handle(.startFailed(generation: 2, reason: "x", permanent: false), now: at(3))
        _ = lifecycle.handle(.retryDue, now: at(4))
        _ = lifecycle.handle(.handshakeSucceeded(generation: 3), now: at(5))
        // Ready for 20 s (> stableAfter), then a crash: back to the initial delay.
        let actions = lifecycle.handle(.connectionClosed(generation: 3, reason: "crash"), now: at(25))
        #expect(actions.contains(.scheduleRetry(after: .milliseconds(100))))
    }

    @Test func staleGenerationsAreIgnored() {
        var lifecycle = PluginLifecycle(policy: policy())
        _ = lifecycle.handle(.startRequested, now: at(0))
        _ = lifecycle.handle(.handshakeSucceeded(generation: 1), now: at(1))
        _ = lifecycle.handle(.connectionClosed(generation: 1, reason: "crash"), now: at(2))
        _ = lifecycle.handle(.retryDue, now: at(3))
        _ = lifecycle.handle(.handshakeSucceeded(generation: 2), now: at(4))
        // A late report about generation 1 must not take down generation 2.
        #expect(lifecycle.handle(.connectionClosed(generation: 1, reason: "late"), now: at(5)) == [])
        #expect(lifecycle.handle(.handshakeSucceeded(generation: 1), now: at(5)) == [])
        #expect(lifecycle.isReady)
    }

    @Test func stopFromEveryState() {
        var ready = PluginLifecycle(policy: policy())
        _ = ready.handle(.startRequested, now: at(0))
        _ = ready.handle(.handshakeSucceeded(generation: 1), now: at(1))
        #expect(ready.handle(.stopRequested, now: at(2)) == [.shutDown(generation: 1)])
        #expect(ready.handle(.stopRequested, now: at(2)) == [])
        #expect(ready.handle(.stopCompleted, now: at(3)) == [.reportStopped])

        var idle = PluginLifecycle(policy: policy())
        #expect(idle.handle(.stopRequested, now: at(0)) == [.reportStopped])

        var backingOff = PluginLifecycle(policy: policy())
        _ = backingOff.handle(.startRequested, now: at(0))
        _ = backingOff.handle(.startFailed(generation: 1, reason: "x", permanent: false), now: at(1))
        #expect(backingOff.handle(.stopRequested, now: at(1)) == [.reportStopped])
        // The retry timer fires after the stop: nothing is spawned.
        #expect(backingOff.handle(.retryDue, now: at(2)) == [])
        #expect(backingOff.state == .stopped)
    }
}
