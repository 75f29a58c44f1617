import PluginProtocol
import Synchronization

/// Policy answers reused for as long as the policy plugin allowed (`cacheTtlMs`), keyed by everything the
/// answer depends on: for `authorize` the client, role, token scopes and request; for `grant` the client's
/// id, role, allowed and default scopes and the requested scopes.
final class DecisionCache<Key: Hashable & Sendable, Answer: Sendable>: Sendable {
    private let entries = Mutex<[Key: (answer: Answer, expires: MonotonicTime)]>([:])
    private let maxEntries: Int

    init(maxEntries: Int = 50_000) { self.maxEntries = maxEntries }

    func lookup(_ key: Key) -> Answer? {
        let now = MonotonicTime.now()
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard now < entry.expires else {
                entries[key] = nil
                return nil
            }
            return entry.answer
        }
    }

    func store(_ key: Key, _ answer: Answer, ttlMilliseconds: Int64) {
        guard ttlMilliseconds > 0 else { return }
        let expires = MonotonicTime.now() + .milliseconds(ttlMilliseconds)
        entries.withLock { entries in
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = (answer, expires)
        }
    }

    func removeAll() { entries.withLock { $0.removeAll(keepingCapacity: true) } }
}
