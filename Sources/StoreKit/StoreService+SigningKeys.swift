import PluginProtocol

/// `store.publishSigningKeys` and `store.signingKeys` (Docs/plugin-protocol.md, "Hosts' signing keys").
extension StoreService {
    func registerSigningKeys(on server: PluginServer) {
        // Other hosts learn of a new key through the store's change watcher (sqlite-store's file poll,
        // postgres-store's NOTIFY), which sends them `invalidate`; this process's host published it itself.
        server.register(HostSigningKeys.publish) { [self] params in
            try publishSigningKeys(params)
            return Empty()
        }
        server.register(HostSigningKeys.list) { [self] _ in SigningKeysResult(keys: try backend.signingKeys(now: now())) }
    }

    /// The params were checked as they were decoded (kid syntax, public members only, asymmetric alg,
    /// notAfter after notBefore); this refuses what only a whole request shows.
    public func publishSigningKeys(_ params: PublishSigningKeysParams) throws {
        guard Set(params.keys.map(\.keyID)).count == params.keys.count else {
            throw RPCError(.invalidParams, "each kid at most once per call")
        }
        try backend.publishSigningKeys(params.keys, now: now())
    }
}
