import PluginProtocol
import Synchronization

/// The host's view of clients: authentication through the store (successes reused for as long as the store
/// allows, see `CredentialCache`), and a cache of client records for the bearer path, so checking a token
/// costs no store round trip in the common case.
///
/// Both caches are dropped when the store says so (`invalidate`, sent when it sees a change from any
/// process) and when a store process goes down or starts; record entries also expire after `ttl`, bounding
/// staleness even with a store that never notifies.
public final class ClientDirectory: Sendable {
    private let store: any PluginEndpoint
    private let ttl: Duration
    private let maxEntries: Int
    private let cache = Mutex<[String: (record: ClientRecord?, expires: MonotonicTime)]>([:])
    private let credentials = CredentialCache()
    private let cacheHits: MetricFamily?

    public init(store: any PluginEndpoint, ttl: Duration = .seconds(5), maxEntries: Int = 100_000,
                cacheHits: MetricFamily? = nil)
    {
        self.store = store
        self.cacheHits = cacheHits
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    public func authenticate(clientID: String, secret: String,
                             completion: @escaping @Sendable (Result<AuthenticateResult, PluginCallError>) -> Void)
    {
        let secretMAC = credentials.isInUse ? credentials.mac(of: secret) : nil
        if let secretMAC, let cached = credentials.lookup(clientID: clientID, secretMAC: secretMAC) {
            cacheHits?.increment([])
            return completion(.success(cached))
        }
        store.call(ClientStore.authenticate, AuthenticateParams(clientID: clientID, secret: secret)) { [self] outcome in
            if case .success(let result) = outcome, let client = result.client {
                remember(client.id, client)
                if result.cacheTTLMilliseconds > 0 {
                    // Keyed by the id the client presented: the one the next request will look up.
                    credentials.store(clientID: clientID, secretMAC: secretMAC ?? credentials.mac(of: secret), result: result)
                }
            }
            completion(outcome)
        }
    }

    /// The client's current record (nil if it no longer exists), from the cache when fresh.
    public func record(_ clientID: String, completion: @escaping @Sendable (Result<ClientRecord?, PluginCallError>) -> Void) {
        let now = MonotonicTime.now()
        if let cached = cache.withLock({ $0[clientID] }), now < cached.expires {
            return completion(.success(cached.record))
        }
        store.call(ClientStore.get, ClientIDParams(clientID: clientID)) { [self] outcome in
            if case .success(let result) = outcome { remember(clientID, result.client) }
            completion(outcome.map(\.client))
        }
    }

    /// Drops cached records: the ids given, or all of them for an empty list.
    public func invalidate(_ clientIDs: [String]) {
        credentials.invalidate(clientIDs)
        cache.withLock { entries in
            if clientIDs.isEmpty {
                entries.removeAll(keepingCapacity: true)
            } else {
                for id in clientIDs { entries[id] = nil }
            }
        }
    }

    private func remember(_ clientID: String, _ record: ClientRecord?) {
        let expires = MonotonicTime.now() + ttl
        cache.withLock { entries in
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[clientID] = (record, expires)
        }
    }
}
