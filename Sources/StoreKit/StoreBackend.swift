import CryptoPrimitives
import PluginProtocol

/// A client with its secret verifiers, as a backend keeps it. Verifiers never leave the store process.
public struct StoredClient: Sendable, Equatable {
    public var record: ClientRecord
    public var secrets: [StoredSecret]

    public init(record: ClientRecord, secrets: [StoredSecret]) {
        self.record = record
        self.secrets = secrets
    }

    /// The record as the host may see it: secret metadata, no verifiers.
    public var publicRecord: ClientRecord {
        var record = record
        record.secrets = secrets.map { SecretInfo(createdAt: $0.createdAt, expiresAt: $0.expiresAt) }
        return record
    }
}

public struct StoredSecret: Sendable, Equatable {
    /// `SecretVerifier` output: scheme, salt and digest.
    public var verifier: String
    public var createdAt: Int64
    public var expiresAt: Int64?

    public init(verifier: String, createdAt: Int64, expiresAt: Int64?) {
        self.verifier = verifier
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public func isActive(at now: Int64) -> Bool { expiresAt.map { $0 > now } ?? true }
}

/// Where a store keeps clients. `StoreService` implements the protocol's semantics on top of one.
///
/// Implementation requirements:
/// - Called from one thread at a time (the plugin's serve thread), except where a backend says otherwise.
/// - `modify` is atomic against other processes sharing the storage: read, change and write in one
///   transaction or under one lock, so two operators editing at once never lose an update.
/// - Acknowledged writes are durable: once a method returns, a crash of the process loses nothing.
/// - Errors are `RPCError`s with store codes (1000...1999); never put a secret or verifier in a message.
public protocol StoreBackend: AnyObject {
    func client(_ id: String) throws -> StoredClient?
    /// `client(id)` for `store.authenticate`, where an unknown id must cost what a known one does (an attacker
    /// times the answers to learn which ids exist). A backend whose lookup does less work on a miss (SQLite
    /// reads no row and no secrets) does the same work on a decoy instead and returns nil. The default is
    /// `client(id)`, right for in-memory lookups.
    func clientToAuthenticate(_ id: String) throws -> StoredClient?
    /// `clientToAuthenticate` for several ids at once (`store.authenticate` requests the host sent together), one
    /// answer per id in their order; ids may repeat. A networked backend looks them up in one round trip, with
    /// the same equal work per unknown id. The default asks `clientToAuthenticate` for each.
    func clientsToAuthenticate(_ ids: [String]) throws -> [StoredClient?]
    /// Fails with `.clientExists` if the id is taken.
    func insert(_ client: StoredClient) throws
    /// Applies `change` to the stored client atomically; nil if there is no such client.
    func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> StoredClient?
    func delete(_ id: String) throws -> Bool
    /// Clients ordered by id, after `after` (exclusive).
    func list(after: String?, limit: Int) throws -> [StoredClient]
    /// Notes a successful authentication; may be batched and written later (it is not an acknowledged write).
    func recordUse(_ id: String, at time: Int64)
    /// Adds a revocation unless the token id is already revoked; may drop entries that expired before `now`.
    func addRevocation(tokenID: String, clientID: String, expiresAt: Int64, now: Int64) throws
    func revocations(after: Int64, now: Int64) throws -> RevocationsResult
    /// Whether it keeps hosts' public signing keys (`store.publishSigningKeys`, `store.signingKeys`); the
    /// default is no, which is fine for a single host.
    var keepsSigningKeys: Bool { get }
    /// Upserts by `kid` and deletes entries whose `notAfter` is at or before `now`; keys are already validated.
    func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws
    /// Every key whose `notAfter` is after `now`, ordered by `kid`.
    func signingKeys(now: Int64) throws -> [HostPublicKey]
    /// Whether it remembers used assertion `jti`s (`store.consumeAssertion`) where every host and every restart
    /// sees them; the default is no, and the host keeps its own in-memory cache (file-store).
    var keepsAssertionReplays: Bool { get }
    /// Records (`clientID`, `tokenID`) until `expiresAt` and returns true, unless an entry for it exists that
    /// has not expired at `now` (false: a replay). Atomic against every process sharing the storage, and durable
    /// before it returns true. Expired entries may be deleted later, in batches.
    func consumeAssertion(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) throws -> Bool
}

extension StoreBackend {
    public func clientToAuthenticate(_ id: String) throws -> StoredClient? { try client(id) }
    public func clientsToAuthenticate(_ ids: [String]) throws -> [StoredClient?] { try ids.map { try clientToAuthenticate($0) } }
    public var keepsSigningKeys: Bool { false }
    public func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws {
        throw RPCError(.methodNotFound, "this store keeps no signing keys")
    }
    public func signingKeys(now: Int64) throws -> [HostPublicKey] { throw RPCError(.methodNotFound, "this store keeps no signing keys") }
    public var keepsAssertionReplays: Bool { false }
    public func consumeAssertion(clientID: String, tokenID: String, expiresAt: Int64, now: Int64) throws -> Bool {
        throw RPCError(.methodNotFound, "this store keeps no used assertions")
    }
}

extension StoredClient {
    /// The id of the decoy client: not a valid client id (it starts with `~`), so no method can reach, list,
    /// change or delete it.
    public static let decoyID = "~decoy-for-unknown-ids"

    /// Who an unknown id is checked as: a typical record with one secret, so that `store.authenticate` runs the
    /// same steps for an unknown id as for a wrong secret.
    public static let decoy = StoredClient(
        record: ClientRecord(id: decoyID, name: "decoy client for unknown ids", role: "", allowedScopes: ["metrics"],
                             defaultScopes: ["metrics"], tokenLifetime: nil, enabled: false, createdAt: 0, updatedAt: 0,
                             lastUsedAt: nil, notBefore: nil),
        secrets: [StoredSecret(verifier: SecretVerifier.decoy, createdAt: 0, expiresAt: nil)])
}
