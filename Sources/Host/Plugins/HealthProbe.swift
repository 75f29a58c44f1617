import PluginProtocol

/// A cheap end-to-end call that shows a plugin process can do its job, not merely that it is alive.
///
/// A store that answers `store.revocations` (every second) but never `store.authenticate` kept the host
/// "ready" while every token failed: the connection only counts a process as hung when nothing at all comes
/// back. So the supervisor makes this call before it reports a process ready, and then every `interval`
/// while it stays ready; an error, an answer of the wrong shape, or no answer within `timeout` ends the
/// process like a crash (restart with backoff), and `/api/v1/status/ready` says not ready meanwhile. A
/// ready process that answers a later probe with an error (its database is down) is reported unavailable
/// instead, without a restart, until a probe passes again.
public struct HealthProbe: Sendable {
    public var method: String
    public var params: JSONValue
    public var interval: Duration = .seconds(2)
    /// The probe's own deadline, independent of (and shorter than) the plugin's `callTimeout`.
    public var timeout: Duration = .seconds(2)
    /// Whether a result is a healthy answer.
    public var accepts: @Sendable (JSONValue) -> Bool

    public init(method: String, params: JSONValue, accepts: @escaping @Sendable (JSONValue) -> Bool) {
        self.method = method
        self.params = params
        self.accepts = accepts
    }

    /// The store's probe: authenticate a client no store holds (well-formed, so the store does the lookup
    /// and the verifier work of a real request). Any result is healthy (`unknown_client`, `wrong_secret`
    /// should someone create a client of that name, even an answer that breaks the protocol's rules, which
    /// each token request refuses on its own); only an error or no answer in time is not.
    public static let store = HealthProbe(
        method: ClientStore.authenticate.name,
        params: AuthenticateParams(clientID: "gatehouse-health-probe", secret: "gatehouse-health-probe-not-a-secret").json,
        accepts: { _ in true })

    /// The probe for a plugin of `role`. Policies have none yet: they hold no storage that can break
    /// underneath a process that still answers (a hung policy is caught by its calls' timeouts).
    public static func standard(for role: PluginRole?) -> HealthProbe? { role == .store ? .store : nil }

    /// Why a probe failed. A plugin that answered with an error (a store whose database is down says
    /// `unavailable`) is alive and knows it cannot serve: restarting it would only spend the crash budget
    /// during an outage and leave the slot in cooldown after the database is back. No answer (a timeout, a
    /// lost connection) or an answer of the wrong shape means the process itself is broken.
    struct Failure: Sendable, CustomStringConvertible {
        let description: String
        /// The plugin answered the probe with a JSON-RPC error.
        let answeredWithError: Bool
    }

    /// Calls the probe on `connection`; `completion` gets nil when healthy, else why not.
    func run(on connection: PluginConnection, completion: @escaping @Sendable (Failure?) -> Void) {
        let accepts = self.accepts
        connection.call(method: method, params: params, timeout: timeout) { outcome in
            switch outcome {
            case .success(let result):
                completion(accepts(result) ? nil : Failure(description: "'\(method)' answered with a result of the wrong shape",
                                                           answeredWithError: false))
            case .failure(let error):
                if case .remote = error { return completion(Failure(description: error.description, answeredWithError: true)) }
                completion(Failure(description: error.description, answeredWithError: false))
            }
        }
    }
}
