import CryptoPrimitives
import Glibc
import PluginProtocol

/// The store methods' semantics (Docs/plugin-protocol.md, "Store methods"), shared by every Swift store.
///
/// Backends only keep data; this decides what a call means: validation, hashing, rotation grace,
/// and equal work for an unknown client and a wrong secret.
public final class StoreService {
    let backend: any StoreBackend
    let now: () -> Int64
    private let authCacheMilliseconds: Int64

    /// - Parameter authCacheMilliseconds: how long the host may reuse a successful authentication
    ///   (`cacheTtlMs`); 0 makes every token request reach the store. Only for stores that send `invalidate`
    ///   when clients change, by their own hand (`register` does that) or behind the host's back.
    public init(backend: any StoreBackend, authCacheMilliseconds: Int64 = 0, now: @escaping () -> Int64 = { Int64(time(nil)) }) {
        self.backend = backend
        self.authCacheMilliseconds = max(0, authCacheMilliseconds)
        self.now = now
    }

    /// The longest `authCacheMs` a store accepts in its config: five minutes.
    public static let maxAuthCacheMilliseconds: Int64 = 300_000

    /// Reads `authCacheMs` from a store's `initialize` config (default `defaultValue`), refusing a value
    /// outside 0 ... `maxAuthCacheMilliseconds` with a message that names the field.
    public static func authCacheMilliseconds(config: JSONValue, default defaultValue: Int64 = 5_000) throws(RPCError) -> Int64 {
        guard let value = config["authCacheMs"] else { return defaultValue }
        guard let milliseconds = value.intValue, (0...maxAuthCacheMilliseconds).contains(milliseconds) else {
            throw RPCError(.invalidParams, "config.authCacheMs must be an integer from 0 to \(maxAuthCacheMilliseconds)")
        }
        return milliseconds
    }

    /// Reads `authCacheMs` from a store's config reader (strict config, `InitializeParams.readConfig`).
    public static func authCacheMilliseconds(_ config: ConfigReader, default defaultValue: Int64 = 5_000) throws(JSONShapeError) -> Int64 {
        try config.optionalInt("authCacheMs", in: 0...maxAuthCacheMilliseconds) ?? defaultValue
    }

    /// Registers every store method on `server`; handlers run on its serve thread.
    public func register(on server: PluginServer) {
        // A change made through this process is announced before its answer, so the host never serves a
        // cached authentication or record of the client after the change is acknowledged. (Changes by other
        // processes reach the host through each store's change watcher.)
        let notifier = server.notifier
        let announce: @Sendable (String) -> Void = { id in
            notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: [id]))
        }
        // Batched: what the host sent while the last lookup waited on storage is looked up together.
        server.registerBatch(ClientStore.authenticate) { [self] in try authenticate($0).map { .success($0) } }
        server.register(ClientStore.get) { [self] in GetClientResult(client: try get($0.clientID)) }
        server.register(ClientStore.create) { [self] params in
            defer { announce(params.client.id) }  // The host may have cached "no such client".
            return ClientResult(client: try create(params))
        }
        server.register(ClientStore.update) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try update(params))
        }
        server.register(ClientStore.delete) { [self] params in
            defer { announce(params.clientID) }
            // An invalid id names no client (and never the decoy).
            return DeleteClientResult(deleted: ClientID.isValid(params.clientID) ? try backend.delete(params.clientID) : false)
        }
        server.register(ClientStore.list) { [self] in try list($0) }
        server.register(ClientStore.rotateSecret) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try rotateSecret(params))
        }
        server.register(ClientKeys.addPublicKey) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try addPublicKey(params))
        }
        // Announced before the answer like every change: a removed key stops working at once.
        server.register(ClientKeys.removePublicKey) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try removePublicKey(params))
        }
        server.register(ClientKeys.setJWKSetURL) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try setJWKSetURL(params))
        }
        server.register(ClientStore.setNotBefore) { [self] params in
            defer { announce(params.clientID) }
            return ClientResult(client: try modify(params.clientID) { $0.record.notBefore = params.notBefore })
        }
        server.register(ClientStore.revoke) { [self] params in
            try backend.addRevocation(tokenID: params.tokenID, clientID: params.clientID, expiresAt: params.expiresAt, now: now())
            return Empty()
        }
        server.register(ClientStore.revocations) { [self] in try backend.revocations(after: $0.after, now: now()) }
        if backend.keepsSigningKeys { registerSigningKeys(on: server) }
        if backend.keepsAssertionReplays { registerAssertionReplays(on: server) }
    }

    // MARK: - Methods

    public func authenticate(_ params: AuthenticateParams) throws -> AuthenticateResult {
        try authenticate([params])[0]
    }

    /// Several `store.authenticate` requests with one backend lookup; one result per request, in order. A backend
    /// failure fails them all (it is the answer to each).
    public func authenticate(_ requests: [AuthenticateParams]) throws -> [AuthenticateResult] {
        let time = now()
        let looked = requests.map { ClientID.isValid($0.clientID) && $0.secret.utf8.count <= ClientValidation.maxSecretLength }
        let ids = zip(requests, looked).compactMap { $1 ? $0.clientID : nil }
        let clients = try backend.clientsToAuthenticate(ids)
        guard clients.count == ids.count else { throw RPCError(.storageFailure, "the store answered \(clients.count) of \(ids.count) lookups") }
        var found = clients.makeIterator()
        return zip(requests, looked).map { params, looked in
            verify(params.secret, against: looked ? found.next() ?? nil : nil, now: time)
        }
    }

    /// An unknown id is checked as the decoy, through the same steps. Always check at least two verifiers,
    /// the number a client has during a rotation, and never stop at the first match: the work is the same for
    /// unknown ids, wrong secrets and right ones.
    private func verify(_ secret: String, against stored: StoredClient?, now time: Int64) -> AuthenticateResult {
        let subject = stored ?? StoredClient.decoy
        var candidates = subject.secrets.filter { $0.isActive(at: time) }
        while candidates.count < 2 { candidates.append(StoredSecret(verifier: SecretVerifier.decoy, createdAt: 0, expiresAt: time)) }
        var matched: [StoredSecret] = []
        for candidate in candidates where SecretVerifier.matches(secret: secret, verifier: candidate.verifier) {
            matched.append(candidate)
        }
        guard let stored else { return .failure(.unknownClient) }
        guard !matched.isEmpty else { return .failure(.wrongSecret) }
        guard stored.record.enabled else { return .failure(.disabled) }
        backend.recordUse(stored.record.id, at: time)
        var record = stored.publicRecord
        record.lastUsedAt = time
        return .success(record, cacheTTLMilliseconds: cacheTTL(matched, now: time))
    }

    /// `authCacheMilliseconds`, cut short so a cached success ends before the secret that earned it expires
    /// (a secret in its rotation grace period). Expiry is in whole seconds and `now` is rounded down, so one
    /// second is taken off to stay on the safe side.
    private func cacheTTL(_ matched: [StoredSecret], now: Int64) -> Int64 {
        let lasting = matched.contains { $0.expiresAt == nil }
        guard !lasting, let expiry = matched.compactMap(\.expiresAt).max() else { return authCacheMilliseconds }
        return min(authCacheMilliseconds, max(0, (expiry - now - 1) * 1000))
    }

    public func get(_ id: String) throws -> ClientRecord? {
        guard ClientID.isValid(id) else { return nil }
        return try backend.client(id)?.publicRecord
    }

    public func create(_ params: CreateClientParams) throws -> ClientRecord {
        var record = params.client
        // A fresh instance for every creation, whatever the caller sent: tokens of a client that was removed
        // and created again under the same id name the old instance and stay void.
        record.instance = try random { try SecureRandom.token(byteCount: 12) }
        try ClientValidation.validate(record)
        try ClientValidation.validate(keys: record.publicKeys)
        let time = now()
        // A client with keys has no secret: what it proves itself with lives only on its own machine.
        var secrets: [StoredSecret] = []
        if let secret = params.secret {
            guard !record.usesKeys else { throw RPCError(.invalidParams, "a client has a secret or public keys, not both") }
            try ClientValidation.checkSecret(secret)
            secrets = [StoredSecret(verifier: try makeVerifier(secret), createdAt: time, expiresAt: nil)]
        }
        record.createdAt = time
        record.updatedAt = time
        record.lastUsedAt = nil
        record.secrets = []
        for index in record.publicKeys.indices { record.publicKeys[index].createdAt = time }
        let stored = StoredClient(record: record, secrets: secrets)
        try backend.insert(stored)
        return stored.publicRecord
    }

    public func update(_ params: UpdateClientParams) throws -> ClientRecord {
        let time = now()
        return try modify(params.clientID) { stored in
            var record = stored.record
            if let name = params.name { record.name = name }
            if let role = params.role { record.role = role }
            if let scopes = params.allowedScopes { record.allowedScopes = scopes }
            if let scopes = params.defaultScopes { record.defaultScopes = scopes }
            if let lifetime = params.tokenLifetime { record.tokenLifetime = lifetime == 0 ? nil : lifetime }
            if let enabled = params.enabled {
                // Disabling voids every token issued so far, so re-enabling later does not revive them. Token
                // times are whole seconds: the mark covers the current second too.
                if record.enabled && !enabled { record.notBefore = time + 1 }
                record.enabled = enabled
            }
            try ClientValidation.validate(record)
            record.updatedAt = time
            stored.record = record
        }
    }

    public func list(_ params: ListClientsParams) throws -> ListClientsResult {
        var after: String?
        if let cursor = params.cursor {
            guard let bytes = Base64.decode(cursor, alphabet: .url), let id = UTF8Text.string(bytes) else {
                throw RPCError(.invalidParams, "invalid cursor")
            }
            after = id
        }
        let limit = Int(params.limit)
        let page = try backend.list(after: after, limit: limit + 1)
        let clients = page.prefix(limit).map(\.publicRecord)
        let next = page.count > limit ? clients.last.map { Base64.encode(Array($0.id.utf8), alphabet: .url) } : nil
        return ListClientsResult(clients: Array(clients), nextCursor: next)
    }

    /// Adds a key beside those there are, so a rotation has an overlap: the old key keeps working until it
    /// is removed.
    public func addPublicKey(_ params: AddPublicKeyParams) throws -> ClientRecord {
        let time = now()
        return try modify(params.clientID) { stored in
            guard stored.secrets.isEmpty else { throw RPCError(.invalidParams, "client '\(params.clientID)' uses a secret, not keys") }
            guard stored.record.jwksURI == nil else {
                throw RPCError(.invalidParams, "client '\(params.clientID)' takes its keys from its jwks uri: drop that first")
            }
            var key = params.key
            key.createdAt = time
            try ClientValidation.validate(keys: stored.record.publicKeys + [key])
            stored.record.publicKeys.append(key)
            stored.record.updatedAt = time
        }
    }

    /// Removes a key; the last one cannot go (the client would have no way to authenticate: delete it).
    public func removePublicKey(_ params: RemovePublicKeyParams) throws -> ClientRecord {
        let time = now()
        return try modify(params.clientID) { stored in
            guard stored.record.publicKeys.contains(where: { $0.keyID == params.keyID }) else {
                throw RPCError(.invalidParams, "client '\(params.clientID)' has no key '\(params.keyID.prefix(128))'")
            }
            guard stored.record.publicKeys.count > 1 else {
                throw RPCError(.invalidParams, "'\(params.keyID.prefix(128))' is the client's only key: add its successor first")
            }
            stored.record.publicKeys.removeAll { $0.keyID == params.keyID }
            stored.record.updatedAt = time
        }
    }

    /// Sets or replaces the URL of the client's keys; a client with registered keys changes over to the URL
    /// in one step (a record carries one or the other). Nil drops the URL, which leaves the client no way to
    /// authenticate until a key is added: it fails closed, and the change over back to registered keys is
    /// "drop, then add".
    public func setJWKSetURL(_ params: SetJWKSetURLParams) throws -> ClientRecord {
        if let url = params.jwksURI, let problem = JWKSetURL.violation(url) { throw RPCError(.invalidClient, problem) }
        let time = now()
        return try modify(params.clientID) { stored in
            guard stored.secrets.isEmpty else { throw RPCError(.invalidParams, "client '\(params.clientID)' uses a secret, not keys") }
            if params.jwksURI != nil { stored.record.publicKeys = [] }
            stored.record.jwksURI = params.jwksURI
            stored.record.updatedAt = time
        }
    }

    public func rotateSecret(_ params: RotateSecretParams) throws -> ClientRecord {
        try ClientValidation.checkSecret(params.secret)
        let verifier = try makeVerifier(params.secret)
        let time = now()
        return try modify(params.clientID) { stored in
            guard !stored.record.usesKeys else {
                throw RPCError(.invalidParams, "client '\(params.clientID)' uses public keys, not a secret")
            }
            let graceEnd = time + params.graceSeconds
            var secrets = stored.secrets.filter { $0.isActive(at: time) }.map { secret -> StoredSecret in
                var secret = secret
                secret.expiresAt = min(secret.expiresAt ?? graceEnd, graceEnd)
                return secret
            }
            secrets = secrets.filter { $0.isActive(at: time) }
            secrets.append(StoredSecret(verifier: verifier, createdAt: time, expiresAt: nil))
            stored.secrets = secrets
            stored.record.updatedAt = time
        }
    }

    private func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> ClientRecord {
        guard ClientID.isValid(id), let stored = try backend.modify(id, change) else {
            throw RPCError(.clientNotFound, "no client '\(id.prefix(128))'")
        }
        return stored.publicRecord
    }

    private func makeVerifier(_ secret: String) throws -> String {
        try random { try SecretVerifier.make(secret: secret) }
    }

    private func random<T>(_ draw: () throws -> T) throws -> T {
        do {
            return try draw()
        } catch {
            throw RPCError(.storageFailure, "cannot read the system random source")
        }
    }
}
