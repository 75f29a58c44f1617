import Foundation
import PluginProtocol
import Synchronization
@testable import Host

/// A `PluginEndpoint` answered in-process, one closure per method: the seam that lets the token endpoint,
/// client authentication and bearer authentication be tested without spawning plugin processes.
///
/// Answers arrive synchronously on the calling thread (the protocol allows any thread); a method with no
/// answer fails as a real plugin would (`-32601`). Every call is recorded, so tests can tell a cache hit
/// (no call) from a miss.
final class ScriptedEndpoint: PluginEndpoint {
    typealias Answer = @Sendable (JSONValue) -> Result<JSONValue, PluginCallError>

    let name: String
    private let answers = Mutex<[String: Answer]>([:])
    private let recorded = Mutex<[(method: String, params: JSONValue)]>([])

    init(name: String) { self.name = name }

    /// Answers `method` with `body`'s decision, or fails the call with its error.
    func answer<P: JSONCodable & Sendable, R: JSONCodable>(_ method: Method<P, R>,
                                                            _ body: @escaping @Sendable (P) -> Result<R, PluginCallError>)
    {
        let plugin = name
        answers.withLock {
            $0[method.name] = { json in
                guard let params = try? P(json: json) else {
                    return .failure(.remote(plugin: plugin, error: RPCError(.invalidParams, "params of the wrong shape")))
                }
                return body(params).map(\.json)
            }
        }
    }

    func call(method: String, params: JSONValue, timeout: Duration?,
              completion: @escaping @Sendable (Result<JSONValue, PluginCallError>) -> Void)
    {
        recorded.withLock { $0.append((method, params)) }
        guard let answer = answers.withLock({ $0[method] }) else {
            return completion(.failure(.remote(plugin: name, error: RPCError(.methodNotFound, "no such method \(method)"))))
        }
        completion(answer(params))
    }

    /// How many times `method` was called.
    func count(_ method: String) -> Int { recorded.withLock { $0.filter { $0.method == method }.count } }
    /// The params of every call of `method`, in order.
    func params(of method: String) -> [JSONValue] { recorded.withLock { $0.filter { $0.method == method }.map(\.params) } }
}

/// The host's token and bearer paths wired to scripted store and policy endpoints, as `Gatehouse.start`
/// wires them to plugin pools: one place to change when those constructors change.
struct InProcessAuth {
    let store = ScriptedEndpoint(name: "store")
    let policy = ScriptedEndpoint(name: "policy")
    let sink = MemoryLogSink()
    let metrics = GatehouseMetrics()
    let directory: ClientDirectory
    let authenticator: ClientAuthenticator
    let tokens: TokenEndpoint
    let bearer: BearerAuthenticator
    let keys: TemporaryDirectory

    init() throws {
        keys = TemporaryDirectory()
        let logger = Logger(sink: sink, minimumLevel: .debug)
        let ring = try SigningKeyRing.loadOrCreate(directory: keys.path, now: Int64(time(nil)))
        let codec = TokenCodecSource(codec: TokenCodec(keys: ring, issuer: "http://gatehouse.test", audience: "gatehouse"),
                                     directory: keys.path, logger: logger)
        directory = ClientDirectory(store: store, cacheHits: metrics.credentialCacheHits)
        let defaults = HostConfig()
        let limiter = FailureRateLimiter(perAddress: defaults.rateLimits.perAddress, perClientAddress: defaults.rateLimits.perClient,
                                         perClient: defaults.rateLimits.perClientTotal)
        authenticator = ClientAuthenticator(directory: directory, limiter: limiter, trustedProxies: defaults.trustedProxies,
                                            metrics: metrics, logger: logger)
        tokens = TokenEndpoint(codec: codec, authenticator: authenticator, policy: policy,
                               settings: .init(defaultLifetime: 3600, maxLifetime: 86400), metrics: metrics, logger: logger)
        bearer = BearerAuthenticator(validator: TokenValidator(codec: codec, directory: directory, revocations: RevocationList()),
                                     policy: policy, metrics: metrics, logger: logger)
    }

    static let context = RequestContext(remoteAddress: "192.0.2.7", receivedAt: .now())

    /// A store that knows `client` with `secret` and lets the host reuse a success for `cacheTTL` ms.
    func storeKnows(_ client: ClientRecord, secret: String, cacheTTL: Int64 = 0) {
        store.answer(ClientStore.authenticate) { params in
            guard params.clientID == client.id else { return .success(.failure(.unknownClient)) }
            return .success(params.secret == secret ? .success(client, cacheTTLMilliseconds: cacheTTL) : .failure(.wrongSecret))
        }
        store.answer(ClientStore.get) { params in
            .success(GetClientResult(client: params.clientID == client.id ? client : nil))
        }
    }

    /// A policy that grants the client's default scopes and allows every request.
    func policyAllows(cacheTTL: Int64 = 0) {
        policy.answer(Policy.grant) { params in
            .success(GrantResult(granted: true, scopes: params.requestedScopes ?? params.client.defaultScopes, reason: "ok",
                                 cacheTTLMilliseconds: cacheTTL))
        }
        policy.answer(Policy.authorize) { _ in .success(AuthorizeResult(allowed: true, reason: "ok", cacheTTLMilliseconds: cacheTTL)) }
    }

    /// Posts a client-credentials request with Basic credentials and waits for the answer.
    func tokenRequest(id: String, secret: String, form: String = "grant_type=client_credentials") -> HTTPResponse {
        let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        let request = HTTPRequest(method: "POST", target: "/api/v1/oauth/token", version: .http11,
                                  headers: HTTPHeaders([("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", basic)]),
                                  body: Array(form.utf8))
        return wait { tokens.handle(request, context: Self.context, completion: $0) }
    }

    func protected(token: String, path: String = "/api/v1/metrics") -> BearerOutcome {
        let request = HTTPRequest(method: "GET", target: path, version: .http11,
                                  headers: HTTPHeaders([("Authorization", "Bearer \(token)")]))
        return wait { bearer.authorize(request, context: Self.context, completion: $0) }
    }

    private func wait<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) -> T {
        let box = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        start { value in
            box.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return box.withLock { $0! }
    }
}

extension HTTPResponse {
    var bodyJSON: JSONValue { (try? JSONParser.parse(body)) ?? .null }
}
