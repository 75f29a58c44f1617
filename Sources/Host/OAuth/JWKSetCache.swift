import PluginProtocol

/// What the host knows of the JWK Sets at clients' `jwksUri`s, and when to fetch one again: a pure value that
/// takes lookups and fetch results and says what to do (`JWKSetFetcher` does it), tested without sockets.
///
/// - A set is fresh for the `Cache-Control: max-age` its server sent, clamped to `minFreshness ... maxFreshness`
///   (default `defaultFreshness`). A lookup of an expired set waits for a fetch.
/// - An assertion naming a `kid` the set lacks (the client rotated) fetches again, but at most once per
///   `refreshInterval` per URL, however many unknown kids arrive: a stranger sending random kids cannot make the
///   host hammer the URL. Every fetch, the first after a failure too, keeps to that interval.
/// - A failed fetch keeps the last good set, for up to `maxStaleness` past its fetch: a key server that is
///   down for a while does not lock its clients out, one that is gone for a day does.
/// - One fetch per URL at a time; lookups that need its result wait for it.
struct JWKSetCache {
    struct Settings: Sendable {
        var minFreshness: Duration = .seconds(60)
        var maxFreshness: Duration = .seconds(86_400)
        var defaultFreshness: Duration = .seconds(300)
        var refreshInterval: Duration = .seconds(10)
        var maxStaleness: Duration = .seconds(86_400)
        var maxEntries = 10_000
    }

    enum Decision: Equatable {
        /// Answer now with these keys (nil: none known, the assertion fails).
        case use([PublicKeyInfo]?)
        /// Start a fetch of the URL and wait for `fetched`.
        case fetch
        /// A fetch is under way: wait for `fetched`.
        case wait
    }

    private struct Entry {
        var keys: [PublicKeyInfo]?
        var fetchedAt: MonotonicTime?
        var freshUntil: MonotonicTime?
        var lastAttempt: MonotonicTime
        var fetching: Bool
    }

    let settings: Settings
    private var entries: [String: Entry] = [:]

    init(settings: Settings = Settings()) { self.settings = settings }

    var count: Int { entries.count }

    /// The keys to check an assertion against; `keyID` is its header's `kid` (nil: every key may be meant).
    mutating func lookup(_ url: String, keyID: String?, now: MonotonicTime) -> Decision {
        guard var entry = entries[url] else {
            if entries.count >= settings.maxEntries { entries = entries.filter { $0.value.fetching } }
            entries[url] = Entry(keys: nil, fetchedAt: nil, freshUntil: nil, lastAttempt: now, fetching: true)
            return .fetch
        }
        let fresh = entry.freshUntil.map { now < $0 } ?? false
        let knows = keyID.map { kid in entry.keys?.contains { $0.keyID == kid } ?? false } ?? (entry.keys != nil)
        if fresh && knows { return .use(entry.keys) }
        if entry.fetching { return .wait }
        guard now.since(entry.lastAttempt) >= settings.refreshInterval else { return .use(usable(entry, now: now)) }
        entry.fetching = true
        entry.lastAttempt = now
        entries[url] = entry
        return .fetch
    }

    /// A fetch ended: `keys` on success (with the server's max-age, if it sent one), nil on failure. Returns
    /// the keys for the lookups that waited.
    mutating func fetched(_ url: String, keys: [PublicKeyInfo]?, maxAge: Duration?, now: MonotonicTime) -> [PublicKeyInfo]? {
        guard var entry = entries[url] else { return keys }
        entry.fetching = false
        if let keys {
            let freshness = min(max(maxAge ?? settings.defaultFreshness, settings.minFreshness), settings.maxFreshness)
            entry.keys = keys
            entry.fetchedAt = now
            entry.freshUntil = now + freshness
        }
        entries[url] = entry
        return usable(entry, now: now)
    }

    /// The last good set while it is not too old to stand in for a fresh one.
    private func usable(_ entry: Entry, now: MonotonicTime) -> [PublicKeyInfo]? {
        guard let fetchedAt = entry.fetchedAt, now.since(fetchedAt) < settings.maxStaleness else { return nil }
        return entry.keys
    }
}
