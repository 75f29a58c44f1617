import Synchronization

/// Open connections across all loops, against `maxConnections`.
final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)

    func tryAcquire(limit: Int) -> Bool {
        let previous = count.wrappingAdd(1, ordering: .relaxed).oldValue
        if previous >= limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { count.wrappingSubtract(1, ordering: .relaxed) }

    var current: Int { count.load(ordering: .relaxed) }
}

/// Open connections per peer address, against `maxConnectionsPerAddress`, so one address cannot take every
/// slot of `maxConnections` (issue 13: 10,000 idle connections from one address locked everyone out).
/// Consulted on accept and close only. Trusted proxies are not counted: behind nginx every client's
/// connection comes from the proxy's address, and capping it would cap the whole service.
final class AddressConnectionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let uncapped: [IPNetwork]

    init(uncapped: [IPNetwork] = []) { self.uncapped = uncapped }

    /// Counts a connection from `address` unless it already has `limit` (0: no limit, nothing counted; an
    /// uncapped address: not counted either).
    func tryAcquire(_ address: String, limit: Int) -> Bool {
        guard limit > 0, !isUncapped(address) else { return true }
        return counts.withLock { counts in
            let open = counts[address, default: 0]
            guard open < limit else { return false }
            counts[address] = open + 1
            return true
        }
    }

    func release(_ address: String, limit: Int) {
        guard limit > 0, !isUncapped(address) else { return }
        counts.withLock { counts in
            let open = counts[address, default: 0]
            counts[address] = open > 1 ? open - 1 : nil
        }
    }

    func current(_ address: String) -> Int { counts.withLock { $0[address, default: 0] } }

    private func isUncapped(_ address: String) -> Bool { uncapped.contains { $0.contains(address) } }
}
