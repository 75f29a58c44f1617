import PluginProtocol
import Synchronization

/// The host's view of clients: authentication through the store (successes reused for as long as the store
/// allows, see `CredentialCache`), and a cache of client records for the bearer path, so checking a token
/// costs no store round trip in the common case.
///
/// Both caches are dropped when the store says so (`invalidate`, sent when it sees a change from any
/// process) and when a store process goes down or starts; record entries also expire after `ttl`, bounding
/// staleness even with a store that never notifies. An answer about another client than the one asked about
/// is a broken answer: the call fails (closed) and nothing is cached.
///
/// An answer asked for before an invalidation and delivered after it may describe the client as it was before
/// the change (a store reads on one thread and hears of changes on another): it serves its own request but is
/// not remembered, or a disabled client would authenticate from the cache until the entry expired.
public final class ClientDirectory: Sendable {
    private let store: any PluginEndpoint
    private let ttl: Duration
    private let records: ExpiringCache<String, ClientRecord?>
    private let credentials = CredentialCache()
    private let cacheHits: MetricFamily?
    /// Moves with every invalidation; an answer is remembered only if it has not moved since the call.
    private let invalidations = Atomic<UInt64>(0)

    public init(store: any PluginEndpoint, ttl: Duration = .seconds(5), maxEntries: Int = 100_000,
                cacheHits: MetricFamily? = nil)
    {
        self.store = store
        self.cacheHits = cacheHits
        self.ttl = ttl
        records = ExpiringCache(maxEntries: maxEntries)
    }

    public func authenticate(clientID: String, secret: String,
                             completion: @escaping @Sendable (Result<AuthenticateResult, PluginCallError>) -> Void)
    {
        let secretMAC = credentials.isInUse ? credentials.mac(of: secret) : nil
        if let secretMAC, let cached = credentials.lookup(clientID: clientID, secretMAC: secretMAC) {
            cacheHits?.increment([])
            return completion(.success(cached))
        }
        let asked = invalidations.load(ordering: .acquiring)
        store.call(ClientStore.authenticate, AuthenticateParams(clientID: clientID, secret: secret)) { [self] outcome in
            if case .success(let result) = outcome, let client = result.client {
                guard client.id == clientID else { return completion(.failure(answeredForAnother(client.id, clientID, ClientStore.authenticate.name))) }
                guard isCurrent(asked) else { return completion(outcome) }
                remember(client.id, client)
                if result.cacheTTLMilliseconds > 0 {
                    credentials.store(clientID: clientID, secretMAC: secretMAC ?? credentials.mac(of: secret), result: result)
                }
            }
            completion(outcome)
        }
    }

    /// The client's current record (nil if it no longer exists), from the cache when fresh.
    public func record(_ clientID: String, completion: @escaping @Sendable (Result<ClientRecord?, PluginCallError>) -> Void) {
        if let cached = records.value(for: clientID) { return completion(.success(cached)) }
        let asked = invalidations.load(ordering: .acquiring)
        store.call(ClientStore.get, ClientIDParams(clientID: clientID)) { [self] outcome in
            if case .success(let result) = outcome {
                if let client = result.client, client.id != clientID {
                    return completion(.failure(answeredForAnother(client.id, clientID, ClientStore.get.name)))
                }
                if isCurrent(asked) { remember(clientID, result.client) }
            }
            completion(outcome.map(\.client))
        }
    }

    /// Drops cached records: the ids given, or all of them for an empty list.
    public func invalidate(_ clientIDs: [String]) {
        // First the count, then the caches: an answer landing in between is not remembered either.
        invalidations.add(1, ordering: .releasing)
        credentials.invalidate(clientIDs)
        if clientIDs.isEmpty { records.removeAll() } else { records.remove(clientIDs) }
    }

    private func isCurrent(_ asked: UInt64) -> Bool { invalidations.load(ordering: .acquiring) == asked }

    private func remember(_ clientID: String, _ record: ClientRecord?) { records.store(record, for: clientID, ttl: ttl) }

    private func answeredForAnother(_ answered: String, _ asked: String, _ method: String) -> PluginCallError {
        .invalidResult(plugin: store.name, method: method, detail: "answered for client '\(answered)' when asked about '\(asked)'")
    }
}
