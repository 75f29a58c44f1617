import Dispatch
import Glibc
import PluginProtocol

/// Reloads the policy file when it changes and on SIGHUP (the usual "reload your config" signal), and tells
/// the host (`invalidate`) so that decisions it cached under the old rules end at once, not at their TTL.
final class PolicyWatcher {
    private let timer: DispatchSourceTimer
    private let hangup: DispatchSourceSignal

    init(file: PolicyFile, interval: DispatchTimeInterval, notifier: PluginNotifier) {
        let queue = DispatchQueue(label: "scope-rbac-watch")
        let reload: @Sendable (Bool) -> Void = { force in
            if file.reload(force: force) { notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: [])) }
        }
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { reload(false) }
        timer.resume()
        signal(SIGHUP, SIG_IGN)  // Delivered to the dispatch source instead.
        hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler { reload(true) }
        hangup.resume()
    }
}
