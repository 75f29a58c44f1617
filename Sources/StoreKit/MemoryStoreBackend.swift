import PluginProtocol

/// The reference backend: everything in memory. Tests use it directly; file-store builds on it.
public final class MemoryStoreBackend: StoreBackend {
    public private(set) var clients: [String: StoredClient] = [:]
    public private(set) var revocationLog: [(seq: Int64, tokenID: String, clientID: String, expiresAt: Int64)] = []
    public private(set) var lastSequence: Int64 = 0

    public init(clients: [StoredClient] = [], revocations: [(seq: Int64, tokenID: String, clientID: String, expiresAt: Int64)] = []) {
        for client in clients { self.clients[client.record.id] = client }
        revocationLog = revocations.sorted { $0.seq < $1.seq }
        lastSequence = revocationLog.last?.seq ?? 0
    }

    public func client(_ id: String) throws -> StoredClient? { clients[id] }

    public func insert(_ client: StoredClient) throws {
        guard clients[client.record.id] == nil else {
            throw RPCError(.clientExists, "client '\(client.record.id)' already exists")
        }
        clients[client.record.id] = client
    }

    public func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> StoredClient? {
        guard var client = clients[id] else { return nil }
        try change(&client)
        clients[id] = client
        return client
    }

    public func delete(_ id: String) throws -> Bool { clients.removeValue(forKey: id) != nil }

    public func list(after: String?, limit: Int) throws -> [StoredClient] {
        let ids = clients.keys.filter { after == nil || $0 > after! }.sorted().prefix(limit)
        return ids.compactMap { clients[$0] }
    }

    public func recordUse(_ id: String, at time: Int64) { clients[id]?.record.lastUsedAt = time }

    public func addRevocation(tokenID: String, clientID: String, expiresAt: Int64, now: Int64) throws {
        revocationLog.removeAll { $0.expiresAt <= now }
        guard !revocationLog.contains(where: { $0.tokenID == tokenID }) else { return }
        lastSequence += 1
        revocationLog.append((lastSequence, tokenID, clientID, expiresAt))
    }

    public func revocations(after: Int64, now: Int64) throws -> RevocationsResult {
        let entries = revocationLog.filter { $0.seq > after && $0.expiresAt > now }
        return RevocationsResult(revocations: entries.map { .init(tokenID: $0.tokenID, expiresAt: $0.expiresAt) },
                                 last: lastSequence)
    }

    public private(set) var publishedKeys: [String: HostPublicKey] = [:]
    public var keepsSigningKeys: Bool { true }

    public func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws {
        // Upsert first, then purge: a key republished with a past notAfter is gone, as the protocol says.
        for key in keys { publishedKeys[key.keyID] = key }
        publishedKeys = publishedKeys.filter { $0.value.notAfter > now }
    }

    public func signingKeys(now: Int64) throws -> [HostPublicKey] {
        publishedKeys.values.filter { $0.notAfter > now }.sorted { $0.keyID < $1.keyID }
    }

    /// Used assertion ids by client id and `jti`, with their expiry; expired ones are dropped as new ones come.
    public private(set) var usedAssertions: [String: Int64] = [:]
    public var keepsAssertionReplays: Bool { true }

    public func consumeAssertion(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) throws -> Bool {
        let key = clientID + "\u{0}" + tokenID
        if let expiry = usedAssertions[key], expiry > now { return false }
        if usedAssertions.count >= 10_000 { usedAssertions = usedAssertions.filter { $0.value > now } }
        usedAssertions[key] = expiresAt
        return true
    }

    /// Replaces the published signing keys (file-store reloads).
    public func replaceSigningKeys(_ keys: [HostPublicKey]) {
        publishedKeys = Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// Replaces everything (file-store reloads).
    public func replaceAll(clients: [StoredClient], revocations: [(seq: Int64, tokenID: String, clientID: String, expiresAt: Int64)]) {
        self.clients = Dictionary(clients.map { ($0.record.id, $0) }, uniquingKeysWith: { _, last in last })
        revocationLog = revocations.sorted { $0.seq < $1.seq }
        lastSequence = max(lastSequence, revocationLog.last?.seq ?? 0)
    }
}
