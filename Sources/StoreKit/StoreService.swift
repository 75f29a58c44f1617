import CryptoPrimitives
import Glibc
import PluginProtocol

/// The store methods' semantics (Docs/plugin-protocol.md, "Store methods"), shared by every Swift store.
///
/// Backends only keep data; this decides what a call means: validation, hashing, rotation grace,
/// and equal work for an unknown client and a wrong secret.
public final class StoreService {
    private let backend: any StoreBackend
    private let now: () -> Int64

    public init(backend: any StoreBackend, now: @escaping () -> Int64 = { Int64(time(nil)) }) {
        self.backend = backend
        self.now = now
    }

    /// Registers every store method on `server`; handlers run on its serve thread.
    public func register(on server: PluginServer) {
        server.register(ClientStore.authenticate) { [self] in try authenticate($0) }
        server.register(ClientStore.get) { [self] in GetClientResult(client: try get($0.clientID)) }
        server.register(ClientStore.create) { [self] in ClientResult(client: try create($0)) }
        server.register(ClientStore.update) { [self] in ClientResult(client: try update($0)) }
        server.register(ClientStore.delete) { [self] in DeleteClientResult(deleted: try backend.delete($0.clientID)) }
        server.register(ClientStore.list) { [self] in try list($0) }
        server.register(ClientStore.rotateSecret) { [self] in ClientResult(client: try rotateSecret($0)) }
        server.register(ClientStore.setNotBefore) { [self] params in
            ClientResult(client: try modify(params.clientID) { $0.record.notBefore = params.notBefore })
        }
        server.register(ClientStore.revoke) { [self] params in
            try backend.addRevocation(tokenID: params.tokenID, clientID: params.clientID, expiresAt: params.expiresAt, now: now())
            return Empty()
        }
        server.register(ClientStore.revocations) { [self] in try backend.revocations(after: $0.after, now: now()) }
    }

    // MARK: - Methods

    public func authenticate(_ params: AuthenticateParams) throws -> AuthenticateResult {
        let time = now()
        let stored = ClientID.isValid(params.clientID) && params.secret.utf8.count <= ClientValidation.maxSecretLength
            ? try backend.client(params.clientID) : nil
        // Always check at least two verifiers, the number a client has during a rotation, and never stop
        // at the first match: the work is the same for unknown ids, wrong secrets and right ones.
        var verifiers = stored?.secrets.filter { $0.isActive(at: time) }.map(\.verifier) ?? []
        while verifiers.count < 2 { verifiers.append(SecretVerifier.decoy) }
        var matched = false
        for verifier in verifiers { matched = SecretVerifier.matches(secret: params.secret, verifier: verifier) || matched }
        guard let stored else { return .failure(.unknownClient) }
        guard matched else { return .failure(.wrongSecret) }
        guard stored.record.enabled else { return .failure(.disabled) }
        backend.recordUse(stored.record.id, at: time)
        var record = stored.publicRecord
        record.lastUsedAt = time
        return .success(record)
    }

    public func get(_ id: String) throws -> ClientRecord? {
        guard ClientID.isValid(id) else { return nil }
        return try backend.client(id)?.publicRecord
    }

    public func create(_ params: CreateClientParams) throws -> ClientRecord {
        var record = params.client
        try ClientValidation.validate(record)
        try ClientValidation.checkSecret(params.secret)
        let time = now()
        record.createdAt = time
        record.updatedAt = time
        record.lastUsedAt = nil
        record.secrets = []
        let stored = StoredClient(record: record, secrets: [StoredSecret(verifier: try makeVerifier(params.secret),
                                                                         createdAt: time, expiresAt: nil)])
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
            guard let bytes = Base64.decode(cursor, alphabet: .url), let id = String(validating: bytes, as: UTF8.self) else {
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

    public func rotateSecret(_ params: RotateSecretParams) throws -> ClientRecord {
        try ClientValidation.checkSecret(params.secret)
        let verifier = try makeVerifier(params.secret)
        let time = now()
        return try modify(params.clientID) { stored in
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
        do {
            return try SecretVerifier.make(secret: secret)
        } catch {
            throw RPCError(.storageFailure, "cannot read the system random source")
        }
    }
}
