import Dispatch
import PluginProtocol

/// Reloads the clients file when someone edits it and tells the host, so cached answers are dropped.
/// The bound on how late a change is seen is the polling interval.
final class FileWatcher {
    private let timer: DispatchSourceTimer

    init(backend: FileStoreBackend, interval: DispatchTimeInterval, notifier: PluginNotifier) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "file-store-watch"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { @Sendable in
            if backend.reloadIfChanged() { notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: [])) }
        }
        timer.resume()
    }
}
