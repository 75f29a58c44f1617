import Synchronization

/// Values remembered until they expire, at most `maxEntries` of them: the one cache type behind the client
/// records, the successful authentications, the policy decisions and the verified tokens.
///
/// Expiry is checked on every lookup (an expired entry is never returned, and is dropped when found). The
/// bound holds at all times: an insert that finds the cache full first drops every expired entry, and if
/// that leaves it more than three quarters full, drops everything. A flood of distinct keys therefore costs
/// a bounded amount of memory and one sweep per quarter of the bound, never a sweep per insert; the entries
/// lost are answers the host can ask for again. Thread-safe; every operation holds one short lock.
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: MonotonicTime
    }

    let maxEntries: Int
    private let entries = Mutex<[Key: Entry]>([:])
    private let clock: @Sendable () -> MonotonicTime

    /// - Parameters:
    ///   - maxEntries: 0 turns the cache off (nothing is stored).
    ///   - clock: the monotonic clock; tests pass their own.
    init(maxEntries: Int, clock: @escaping @Sendable () -> MonotonicTime = { MonotonicTime.now() }) {
        self.maxEntries = max(0, maxEntries)
        self.clock = clock
    }

    /// The value stored for `key`, if it has not expired.
    func value(for key: Key) -> Value? {
        let now = clock()
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard now < entry.expires else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Remembers `value` for `ttl`; a zero or negative `ttl` stores nothing (and leaves an older entry alone).
    func store(_ value: Value, for key: Key, ttl: Duration) {
        guard ttl > .zero, maxEntries > 0 else { return }
        let now = clock()
        let entry = Entry(value: value, expires: now + ttl)
        entries.withLock { entries in
            if entries.count >= maxEntries, entries[key] == nil { Self.makeRoom(&entries, now: now, maxEntries: maxEntries) }
            entries[key] = entry
        }
    }

    func remove(_ key: Key) { entries.withLock { $0[key] = nil } }

    func remove(_ keys: some Sequence<Key>) {
        entries.withLock { entries in
            for key in keys { entries[key] = nil }
        }
    }

    func removeAll() { entries.withLock { $0.removeAll(keepingCapacity: true) } }

    /// Entries held, expired ones included until they are found or swept (for tests and metrics).
    var count: Int { entries.withLock { $0.count } }

    private static func makeRoom(_ entries: inout [Key: Entry], now: MonotonicTime, maxEntries: Int) {
        entries = entries.filter { now < $0.value.expires }
        if entries.count > maxEntries / 4 * 3 { entries.removeAll(keepingCapacity: true) }
    }
}
