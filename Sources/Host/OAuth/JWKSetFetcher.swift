import JSON
import PluginProtocol
import Synchronization

/// The keys of clients registered with a `jwksUri`: `JWKSetCache` decides when to fetch, `JWKSetDownloader`
/// fetches (bounded in time and size, no redirects), `JWKSetDocument` keeps the usable keys.
///
/// Never blocks its caller: a lookup the cache answers completes at once on the caller's thread (as a
/// registered key's check does); one that needs a fetch completes later on a Dispatch worker thread, and
/// the request waits without holding any thread, so other requests (a client secret's, another client's)
/// are served meanwhile.
final class JWKSetFetcher: Sendable {
    typealias Completion = @Sendable (_ keys: [PublicKeyInfo]?) -> Void

    private struct State {
        var cache: JWKSetCache
        var waiting: [String: [Completion]] = [:]
    }

    private let state: Mutex<State>
    private let downloader: JWKSetDownloader
    private let logger: Logger?
    /// `gatehouse_jwks_fetches_total{outcome}`.
    private let fetches: MetricFamily?

    init(settings: JWKSetCache.Settings = .init(), downloader: JWKSetDownloader = JWKSetDownloader(), logger: Logger? = nil,
         fetches: MetricFamily? = nil)
    {
        state = Mutex(State(cache: JWKSetCache(settings: settings)))
        self.downloader = downloader
        self.logger = logger
        self.fetches = fetches
    }

    /// The keys at `url` to check an assertion whose header names `keyID`; nil when none are known (never
    /// fetched successfully, or the last good set is too old).
    func keys(_ url: String, keyID: String?, completion: @escaping Completion) {
        let decision = state.withLock { state -> JWKSetCache.Decision in
            let decision = state.cache.lookup(url, keyID: keyID, now: .now())
            if case .use = decision { return decision }
            state.waiting[url, default: []].append(completion)
            return decision
        }
        switch decision {
        case .use(let keys): completion(keys)
        case .wait: break
        case .fetch:
            downloader.get(url) { [self] outcome in finish(url, outcome) }
        }
    }

    private func finish(_ url: String, _ outcome: Result<JWKSetDownloader.Response, JWKSetDocument.Refused>) {
        var keys: [PublicKeyInfo]?
        var maxAge: Duration?
        switch outcome.flatMap({ response in JWKSetDocument.keys(response.body).map { ($0, response.maxAge) } }) {
        case .success(let (found, age)):
            keys = found
            maxAge = age
            fetches?.increment(["ok"])
        case .failure(let refused):
            fetches?.increment(["failed"])
            // The last good set (if any) goes on serving; the cache keeps retries to its interval.
            logger?.log(.warning, "cannot fetch a client's JWK Set", ["jwks.url": .string(url), "jwks.reason": .string(refused.reason)])
        }
        let (usable, waiting) = state.withLock { state in
            (state.cache.fetched(url, keys: keys, maxAge: maxAge, now: .now()), state.waiting.removeValue(forKey: url) ?? [])
        }
        for completion in waiting { completion(usable) }
    }
}
