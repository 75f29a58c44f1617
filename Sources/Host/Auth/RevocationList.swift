import Glibc
import PluginProtocol
import Synchronization

/// Revoked token ids (RFC 7009), until the tokens expire.
///
/// A revocation takes effect at once on the host that received it; other hosts sharing the store learn of
/// it by polling `store.revocations` every `syncInterval` — the documented bound on how late they see it.
public final class RevocationList: Sendable {
    private let revoked = Mutex<(entries: [String: Int64], lastSequence: Int64)>(([:], 0))

    public init() {}

    public func isRevoked(_ tokenID: String) -> Bool { revoked.withLock { $0.entries[tokenID] != nil } }

    public func add(_ tokenID: String, expiresAt: Int64) {
        revoked.withLock { $0.entries[tokenID] = expiresAt }
    }

    /// Pulls revocations made elsewhere since the last sync and forgets expired ones; `completion` gets the
    /// error if the store could not answer.
    func sync(from store: any PluginEndpoint, completion: @escaping @Sendable (PluginCallError?) -> Void = { _ in }) {
        let after = revoked.withLock { $0.lastSequence }
        store.call(ClientStore.revocations, RevocationsParams(after: after)) { [self] outcome in
            if case .failure(let error) = outcome { return completion(error) }
            if case .success(let result) = outcome {
                let now = Int64(time(nil))
                revoked.withLock { state in
                    for entry in result.revocations { state.entries[entry.tokenID] = entry.expiresAt }
                    state.entries = state.entries.filter { $0.value > now }
                    state.lastSequence = max(state.lastSequence, result.last)
                }
            }
            completion(nil)
        }
    }
}
