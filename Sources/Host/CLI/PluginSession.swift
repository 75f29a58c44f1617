import Dispatch
import PluginProtocol
import Synchronization

/// A CLI command's synchronous session with one plugin, started from the same config entry `gatehouse
/// serve` uses, so the command reaches the same store or policy.
struct PluginSession {
    let pool: PluginPool

    static func open(_ spec: PluginSpec) -> Result<PluginSession, CLIError> {
        // The CLI is interactive: no JSON log lines. The supervisor's own lines ("giving up until cooldown")
        // say nothing the error below does not; what the plugin itself logged is shown after the error.
        let sink = CollectingLogSink()
        let logger = Logger(sink: sink, minimumLevel: .warning)
        var spec = spec
        spec.restart.maxCrashes = 1
        let pool = PluginPool(spec: spec, logger: logger, hostVersion: BuildInfo.version)
        pool.start()
        if case .failure(let error) = pool.waitUntilReady(timeout: spec.startTimeout) {
            pool.shutdown()
            let said = sink.pluginMessages.map { "\n  \(spec.name) plugin: \($0)" }.joined()
            return .failure(CLIError(.unavailable, error.description + said))
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

/// Keeps the first warnings and errors a plugin wrote to its stderr, for the CLI to show under its error.
final class CollectingLogSink: LogSink {
    /// The supervisor's own records; everything else with a `plugin.pid` came from the plugin's stderr.
    private static let supervisorMessages: Set<String> = [
        "plugin failed; giving up until cooldown ends", "plugin down; restarting", "plugin did not exit after 'exit'; terminated",
    ]
    private let messages = Mutex<[String]>([])

    func write(line: [UInt8]) {
        guard case .object(let fields)? = try? JSONParser.parse(line), let message = fields["msg"]?.stringValue,
              !Self.supervisorMessages.contains(message), !message.hasPrefix("plugin log line dropped")
        else { return }
        let text = fields["error"]?.stringValue.map { "\(message): \($0)" } ?? message
        messages.withLock { if $0.count < 10, !$0.contains(text) { $0.append(text) } }
    }

    var pluginMessages: [String] { messages.withLock { $0 } }
}
