/// A fixed-size memory of recent ids, oldest forgotten first.
struct RecentIDs: Sendable {
    private var ring: [Int64]
    private var members: Set<Int64> = []
    private var next = 0

    init(capacity: Int) { ring = Array(repeating: -1, count: capacity) }

    mutating func insert(_ id: Int64) {
        if ring[next] >= 0 { members.remove(ring[next]) }
        ring[next] = id
        members.insert(id)
        next = (next + 1) % ring.count
    }

    func contains(_ id: Int64) -> Bool { members.contains(id) }
}
