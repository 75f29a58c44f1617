import PluginProtocol
import Synchronization

/// Policy answers reused for as long as the policy plugin allowed (`cacheTtlMs`), keyed by everything the
/// answer depends on: client, role, token scopes and request.
final class DecisionCache: Sendable {
    private let entries = Mutex<[AuthorizeParams: (result: AuthorizeResult, expires: MonotonicTime)]>([:])
    private let maxEntries: Int

    init(maxEntries: Int = 50_000) { self.maxEntries = maxEntries }

    func lookup(_ params: AuthorizeParams) -> AuthorizeResult? {
        let now = MonotonicTime.now()
        return entries.withLock { entries in
            guard let entry = entries[params] else { return nil }
            guard now < entry.expires else {
                entries[params] = nil
                return nil
            }
            return entry.result
        }
    }

    func store(_ params: AuthorizeParams, _ result: AuthorizeResult) {
        guard result.cacheTTLMilliseconds > 0 else { return }
        let expires = MonotonicTime.now() + .milliseconds(result.cacheTTLMilliseconds)
        entries.withLock { entries in
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[params] = (result, expires)
        }
    }

    func removeAll() { entries.withLock { $0.removeAll(keepingCapacity: true) } }
}
