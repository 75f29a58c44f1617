import Dispatch
import Glibc

/// Reloads the policy file when it changes and on SIGHUP (the usual "reload your config" signal).
final class PolicyWatcher {
    private let timer: DispatchSourceTimer
    private let hangup: DispatchSourceSignal

    init(file: PolicyFile, interval: DispatchTimeInterval) {
        let queue = DispatchQueue(label: "scope-rbac-watch")
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { @Sendable in file.reload() }
        timer.resume()
        signal(SIGHUP, SIG_IGN)  // Delivered to the dispatch source instead.
        hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hangup.setEventHandler { @Sendable in file.reload(force: true) }
        hangup.resume()
    }
}
