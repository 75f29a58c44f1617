import PluginProtocol
import Synchronization

/// The store's word on client assertion `jti`s (`store.consumeAssertion`, Docs/plugin-protocol.md "Used
/// assertions"): asked only about an assertion this host's own `AssertionReplayCache` had not seen, so a replay
/// on the same host never costs a store call, and one accepted by another host sharing the store (or by this
/// host before a restart) is refused.
///
/// A store without the method (-32601: file-store, the Python example) leaves the local cache alone in charge,
/// as before; that is asked again when the store process changes. Any other failure fails the request (503,
/// as when the store cannot check a client secret): nobody has said the assertion is new.
final class SharedAssertionReplays: Sendable {
    private let store: any PluginEndpoint
    private let logger: Logger
    /// Nil until the store answered once; false: it keeps no used assertions.
    private let supported = Mutex<Bool?>(nil)

    init(store: any PluginEndpoint, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The store process may have changed (it restarted, or announced a change of everything): ask it again
    /// whether it keeps used assertions.
    func storeChanged() { supported.withLock { $0 = $0 == false ? nil : $0 } }

    /// True when the store recorded the `jti` now (or keeps none: the local cache already did).
    func consume(clientID: String, tokenID: String, expiresAt: Int64,
                 completion: @escaping @Sendable (Result<Bool, PluginCallError>) -> Void)
    {
        if supported.withLock({ $0 }) == false { return completion(.success(true)) }
        let params = ConsumeAssertionParams(clientID: clientID, tokenID: tokenID, expiresAt: expiresAt)
        store.call(AssertionReplays.consume, params) { [self] outcome in
            switch outcome {
            case .success(let result):
                supported.withLock { $0 = true }
                completion(.success(result.outcome == .fresh))
            case .failure(.remote(_, let error)) where error.code == .methodNotFound:
                let first = supported.withLock { state in
                    defer { state = false }
                    return state == nil
                }
                if first {
                    logger.info("the store keeps no used client assertions: each host remembers its own until it restarts (fine for a single host)")
                }
                completion(.success(true))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }
}
