import PluginProtocol

/// `store.consumeAssertion` (Docs/plugin-protocol.md, "Used assertions").
extension StoreService {
    func registerAssertionReplays(on server: PluginServer) {
        server.register(AssertionReplays.consume) { [self] params in ConsumeAssertionResult(try consumeAssertion(params)) }
    }

    /// The params were bounded as they were decoded (a client id, a `jti` of at most 256 bytes); this bounds
    /// how long an entry may stay, so no caller fills the store with entries that never expire.
    public func consumeAssertion(_ params: ConsumeAssertionParams) throws -> ConsumeAssertionResult.Outcome {
        let time = now()
        guard params.expiresAt <= time + AssertionReplays.maxRetention else {
            throw RPCError(.invalidParams, "expiresAt is more than \(AssertionReplays.maxRetention) s away")
        }
        let fresh = try backend.consumeAssertion(clientID: params.clientID, tokenID: params.tokenID, expiresAt: params.expiresAt, now: time)
        return fresh ? .fresh : .replayed
    }
}
