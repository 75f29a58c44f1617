import PluginProtocol

/// Something the host calls plugin methods on: a pool of plugin processes, or a stand-in in tests.
///
/// Implementation requirements: `completion` is called exactly once, on any thread, and quickly (it may
/// run on a plugin's reader thread); errors are `PluginCallError`s so the host can always fail closed.
public protocol PluginEndpoint: Sendable {
    var name: String { get }
    func call(method: String, params: JSONValue, timeout: Duration?,
              completion: @escaping @Sendable (Result<JSONValue, PluginCallError>) -> Void)
}

extension PluginEndpoint {
    public func call<P, R>(_ method: Method<P, R>, _ params: P, timeout: Duration? = nil,
                           completion: @escaping @Sendable (Result<R, PluginCallError>) -> Void)
    {
        let plugin = name
        call(method: method.name, params: params.json, timeout: timeout) { outcome in
            completion(outcome.flatMap { json in
                do throws(JSONShapeError) {
                    return .success(try R(json: json))
                } catch {
                    return .failure(.invalidResult(plugin: plugin, method: method.name, detail: error.message))
                }
            })
        }
    }

    public func call<P, R>(_ method: Method<P, R>, _ params: P, timeout: Duration? = nil) async throws(PluginCallError) -> R {
        let outcome = await withCheckedContinuation { continuation in
            call(method, params, timeout: timeout) { continuation.resume(returning: $0) }
        }
        return try outcome.get()
    }
}

/// Counts every call by plugin, method and outcome and times it, for `/api/v1/metrics`.
public struct InstrumentedEndpoint: PluginEndpoint {
    let wrapped: any PluginEndpoint
    let metrics: GatehouseMetrics

    public init(_ wrapped: any PluginEndpoint, metrics: GatehouseMetrics) {
        self.wrapped = wrapped
        self.metrics = metrics
    }

    public var name: String { wrapped.name }

    public func call(method: String, params: JSONValue, timeout: Duration?,
                     completion: @escaping @Sendable (Result<JSONValue, PluginCallError>) -> Void)
    {
        let started = MonotonicTime.now()
        let plugin = wrapped.name
        let metrics = self.metrics
        wrapped.call(method: method, params: params, timeout: timeout) { outcome in
            let label: String
            switch outcome {
            case .success: label = "ok"
            case .failure(let error): label = error.outcome
            }
            metrics.pluginCalls.increment([plugin, method, label])
            metrics.pluginCallDuration.observe([plugin, method], MonotonicTime.now().since(started).secondsDouble)
            completion(outcome)
        }
    }
}
