import Dispatch
import PluginProtocol
import Synchronization

/// A CLI command's synchronous session with one plugin, started from the same config entry `gatehouse
/// serve` uses, so the command reaches the same store or policy.
struct PluginSession {
    let pool: PluginPool

    static func open(_ spec: PluginSpec) -> Result<PluginSession, CLIError> {
        // The CLI is interactive: plugin chatter below warnings stays out of the operator's way.
        let logger = Logger(minimumLevel: .warning)
        var spec = spec
        spec.restart.maxCrashes = 1
        let pool = PluginPool(spec: spec, logger: logger, hostVersion: BuildInfo.version)
        pool.start()
        if case .failure(let error) = pool.waitUntilReady(timeout: spec.startTimeout) {
            pool.shutdown()
            return .failure(CLIError(.unavailable, error.description))
        }
        return .success(PluginSession(pool: pool))
    }

    /// Calls a method synchronously; plugin errors become CLI errors with the plugin's message.
    func call<P, R>(_ method: Method<P, R>, _ params: P) -> Result<R, CLIError> {
        let box = CallBox<R>()
        let done = DispatchSemaphore(value: 0)
        pool.call(method, params) { outcome in
            box.set(outcome)
            done.signal()
        }
        done.wait()
        switch box.get() {
        case .success(let value): return .success(value)
        case .failure(.remote(_, let error)):
            let refused: Set<RPCErrorCode> = [.clientExists, .clientNotFound, .weakSecret, .invalidClient, .readOnly, .invalidParams]
            return .failure(CLIError(refused.contains(error.code) ? .refused : .unavailable, error.message))
        case .failure(let error): return .failure(CLIError(.unavailable, error.description))
        }
    }

    func close() { pool.shutdown() }
}

/// Carries one call's outcome from the plugin's reader thread to the waiting CLI thread.
final class CallBox<R: Sendable>: Sendable {
    private let value = Mutex<Result<R, PluginCallError>?>(nil)
    func set(_ outcome: Result<R, PluginCallError>) { value.withLock { $0 = outcome } }
    func get() -> Result<R, PluginCallError> {
        value.withLock { $0 } ?? .failure(.unavailable(plugin: "plugin", reason: "no answer"))
    }
}
