import Dispatch
import PluginProtocol

/// Tells the host when another process (the CLI, another host) changed the database, so the host drops
/// cached client answers. Polls `PRAGMA data_version` on its own read connection (cheap: no page is read) and,
/// when it moved, the `changes` counter that the schema's triggers advance on every change a host must hear of
/// (SQLiteSchema). Last-use writes, this store's own batches every 10 s and other hosts' alike, move
/// `data_version` but not the counter, so they no longer empty every host's caches for nothing; a change made
/// in the same interval still moves the counter and is announced. Steps this process's own commits made
/// (`OwnChanges`) are not announced either: the host knows of them. The bound on how late the host learns of a
/// change is `interval` (Docs/plugin-protocol.md, "invalidate").
final class ChangeWatcher: @unchecked Sendable {
    // @unchecked: `db`, the statements and the last values are touched only by the timer's serial queue (and by
    // `init`, before the timer starts).
    private let db: SQLiteDatabase
    private let version: SQLiteStatement
    private let counter: SQLiteStatement
    private var lastVersion: Int64 = -1
    private var lastCount: Int64 = -1
    private let timer: DispatchSourceTimer
    private let own: OwnChanges
    private let onChange: @Sendable () -> Void

    init(path: String, interval: DispatchTimeInterval, own: OwnChanges, onChange: @escaping @Sendable () -> Void) throws {
        db = try SQLiteDatabase(path: path, readOnly: true)
        try db.execute("PRAGMA busy_timeout = 1000")
        version = try db.prepare("PRAGMA data_version")
        counter = try db.prepare("SELECT seq FROM changes WHERE id = 1")
        self.own = own
        self.onChange = onChange
        // The baseline is read now, before the store answers anything: read at the first tick instead, a change
        // made by another process in the first interval became the baseline and was never announced.
        lastVersion = ((try? version.bind().firstRow { $0.int(0) }) ?? nil) ?? -1
        lastCount = ((try? counter.bind().firstRow { $0.int(0) }) ?? nil) ?? -1
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sqlite-store-watch"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [self] in poll() }
        timer.resume()
    }

    private func poll() {
        guard let current = (try? version.bind().firstRow { $0.int(0) }) ?? nil, current != lastVersion else { return }
        lastVersion = current
        // A counter that cannot be read is announced as a change: a missed invalidate would serve stale answers.
        let count = ((try? counter.bind().firstRow { $0.int(0) }) ?? nil) ?? -1
        if count < 0 || (count != lastCount && !own.accountFor(from: lastCount, to: count)) { onChange() }
        lastCount = count
    }
}
