import Dispatch
import PluginProtocol

/// Tells the host when another process (the CLI, another host) changed the database, so the host drops
/// cached client answers. Polls `PRAGMA data_version` on its own read connection; the bound on how late
/// the host learns of a change is `interval` (Docs/plugin-protocol.md, "invalidate").
final class ChangeWatcher: @unchecked Sendable {
    // @unchecked: `db`, `statement` and `lastVersion` are touched only by the timer's serial queue (and by `init`,
    // before the timer starts).
    private let db: SQLiteDatabase
    private let statement: SQLiteStatement
    private var lastVersion: Int64 = -1
    private let timer: DispatchSourceTimer
    private let onChange: @Sendable () -> Void

    init(path: String, interval: DispatchTimeInterval, onChange: @escaping @Sendable () -> Void) throws {
        db = try SQLiteDatabase(path: path, readOnly: true)
        try db.execute("PRAGMA busy_timeout = 1000")
        let statement = try db.prepare("PRAGMA data_version")
        self.statement = statement
        self.onChange = onChange
        // The baseline is read now, before the store answers anything: read at the first tick instead, a change
        // made by another process in the first interval became the baseline and was never announced.
        lastVersion = ((try? statement.bind().firstRow { $0.int(0) }) ?? nil) ?? -1
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sqlite-store-watch"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [self] in poll() }
        timer.resume()
    }

    private func poll() {
        guard let version = (try? statement.bind().firstRow { $0.int(0) }) ?? nil else { return }
        if lastVersion >= 0 && version != lastVersion { onChange() }
        lastVersion = version
    }
}
