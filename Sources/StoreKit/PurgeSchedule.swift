/// When a store deletes the expired rows of a table that grows with traffic (used assertion `jti`s): not on
/// every call, which would put a second statement on the hot path, but a batch at most every `interval`
/// seconds, and the next batch at the next call while a batch came back full (a backlog drains quickly
/// without one call deleting millions of rows).
public struct PurgeSchedule: Sendable {
    public let interval: Int64
    public let batchSize: Int
    private var nextAt: Int64 = 0

    public init(interval: Int64 = 60, batchSize: Int = 5_000) {
        self.interval = interval
        self.batchSize = batchSize
    }

    public func isDue(now: Int64) -> Bool { now >= nextAt }

    /// Call after a batch that deleted `deleted` rows.
    public mutating func finished(deleted: Int, now: Int64) {
        nextAt = deleted >= batchSize ? now : now + interval
    }
}
