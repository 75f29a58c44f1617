import Dispatch

/// Call deadlines of `PluginConnection`: one timer for the earliest deadline, a call past it fails as timed
/// out, and a plugin that said nothing at all for a whole timeout while a call waited is closed as hung.
extension PluginConnection {
    func scheduleSweep(at deadline: MonotonicTime) {
        let delay = deadline.since(.now())
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(delay.nanosecondsClamped))) {
            [weak self] in self?.sweep()
        }
    }

    private func sweep() {
        let now = MonotonicTime.now()
        var expired: [Pending] = []
        var silentSinceCall: String?
        let next = state.withLock { state -> MonotonicTime? in
            guard state.closed == nil else { return nil }
            for (id, call) in state.pending where call.deadline <= now {
                state.pending[id] = nil
                state.expired.insert(id)
                expired.append(call)
                if state.lastHeard <= call.sentAt { silentSinceCall = call.method }
            }
            state.nextSweep = state.pending.values.lazy.map(\.deadline).min()
            return state.nextSweep
        }
        for call in expired {
            call.completion(.failure(.timedOut(plugin: plugin, method: call.method, after: call.timeout)))
        }
        if let method = silentSinceCall {
            // Nothing at all came back for a whole timeout while a call waited: the plugin is hung
            // (stopped, deadlocked, spinning). Restarting it is the only way back to service.
            close(.unresponsive(method: method))
        } else if let next {
            scheduleSweep(at: next)
        }
    }
}
