import Synchronization

/// The steps of the `changes` counter that this process's own commits made, so the change watcher does not
/// announce them to the host as "all clients changed": the host already knows of a revocation or a key it
/// published, and a client change made here is announced for that client before its answer (StoreService).
/// Each range is read under the write lock (`BEGIN IMMEDIATE` to `COMMIT`), so no other process's step can be
/// inside it, and recorded only once the commit succeeded; a step the ranges do not account for is
/// someone else's, and is announced.
final class OwnChanges: Sendable {
    /// (counter before, counter after) of each own commit that moved it, oldest first.
    private let ranges = Mutex<[(from: Int64, to: Int64)]>([])

    func record(from: Int64, to: Int64) {
        guard to > from else { return }
        ranges.withLock { $0.append((from, to)) }
    }

    /// Whether own commits made every step from `start` to `end`; forgets the ranges that end by `end`.
    func accountFor(from start: Int64, to end: Int64) -> Bool {
        ranges.withLock { ranges in
            var reached = start
            for range in ranges where range.from == reached { reached = range.to }
            ranges.removeAll { $0.to <= end }
            return reached == end
        }
    }
}
