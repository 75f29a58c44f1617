import Glibc

/// Last-use times of clients, held in memory and written in batches: a token request must not cost a database
/// write, so a store records each use here and writes the batch every `interval` seconds and at shutdown. Reads
/// merge the pending time (`self[id]`) so `store.get` shows the newest use before it is written.
public struct LastUseBatch: Sendable {
    public static let defaultInterval: Int64 = 10

    public let interval: Int64
    private var pending: [String: Int64] = [:]
    private var lastFlush: Int64

    public init(interval: Int64 = Self.defaultInterval, now: Int64 = Int64(time(nil))) {
        self.interval = interval
        self.lastFlush = now
    }

    /// The pending last use of `id`, not yet written.
    public subscript(id: String) -> Int64? { pending[id] }

    /// Records a use; returns whether the batch is due to be written (then call `take`).
    public mutating func record(_ id: String, at time: Int64) -> Bool {
        pending[id] = time
        return time - lastFlush >= interval
    }

    /// Drops the pending use of a client that was deleted.
    public mutating func forget(_ id: String) { pending[id] = nil }

    /// Everything pending, emptied, with the next interval starting at `now`.
    public mutating func take(now: Int64) -> [String: Int64] {
        lastFlush = now
        defer { pending = [:] }
        return pending
    }
}
