import PluginProtocol

/// The host's view of clients: authentication through the store (successes reused for as long as the store
/// allows, see `CredentialCache`), and a cache of client records for the bearer path, so checking a token
/// costs no store round trip in the common case.
///
/// Both caches are dropped when the store says so (`invalidate`, sent when it sees a change from any
/// process) and when a store process goes down or starts; record entries also expire after `ttl`, bounding
/// staleness even with a store that never notifies. An answer about another client than the one asked about
/// is a broken answer: the call fails (closed) and nothing is cached.
public final class ClientDirectory: Sendable {
    private let store: any PluginEndpoint
    private let ttl: Duration
    private let records: ExpiringCache<String, ClientRecord?>
    private let credentials = CredentialCache()
    private let cacheHits: MetricFamily?

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
        store.call(ClientStore.authenticate, AuthenticateParams(clientID: clientID, secret: secret)) { [self] outcome in
            if case .success(let result) = outcome, let client = result.client {
                guard client.id == clientID else { return completion(.failure(answeredForAnother(client.id, clientID, ClientStore.authenticate.name))) }
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
        store.call(ClientStore.get, ClientIDParams(clientID: clientID)) { [self] outcome in
            if case .success(let result) = outcome {
                if let client = result.client, client.id != clientID {
                    return completion(.failure(answeredForAnother(client.id, clientID, ClientStore.get.name)))
                }
                remember(clientID, result.client)
            }
            completion(outcome.map(\.client))
        }
    }

    /// Drops cached records: the ids given, or all of them for an empty list.
    public func invalidate(_ clientIDs: [String]) {
        credentials.invalidate(clientIDs)
        if clientIDs.isEmpty { records.removeAll() } else { records.remove(clientIDs) }
    }

    private func remember(_ clientID: String, _ record: ClientRecord?) { records.store(record, for: clientID, ttl: ttl) }

    private func answeredForAnother(_ answered: String, _ asked: String, _ method: String) -> PluginCallError {
        .invalidResult(plugin: store.name, method: method, detail: "answered for client '\(answered)' when asked about '\(asked)'")
    }
}
