import CryptoPrimitives
import PluginProtocol
import Synchronization

/// Successful client authentications the store allowed the host to reuse (`cacheTtlMs` in the
/// `store.authenticate` result), so a client that asks for token after token does not cost a store round
/// trip each time.
///
/// Secrets are never kept: an entry holds an HMAC of the secret under a key drawn at start-up and never
/// written anywhere, compared in constant time. Only successes are cached; a wrong secret always reaches the
/// store (which does the same work for every failure), so failures keep their timing and their rate limit.
/// Entries end at their TTL, when the store says clients changed (`invalidate`), and when a store process
/// (re)starts, since changes made while it was down were never announced.
final class CredentialCache: Sendable {
    struct Entry: Sendable {
        let secretMAC: [UInt8]
        let result: AuthenticateResult
    }

    private let key: HMACKey
    private let entries: ExpiringCache<String, Entry>
    /// False until the store first allows caching: a store that never does (`authCacheMs: 0`, most custom
    /// stores) then costs no MAC per request.
    private let inUse = Atomic<Bool>(false)

    var isInUse: Bool { inUse.load(ordering: .relaxed) }

    /// - Parameter maxEntries: 10,000 clients re-authenticating within the TTL is far beyond any deployment we
    ///   know of; the bound keeps the memory a flood of distinct clients can take to a few megabytes.
    init(maxEntries: Int = 10_000) {
        // A fresh key per process: the MACs mean nothing outside it. getrandom failing at start-up would be a
        // broken system; fall back to no caching rather than a guessable key.
        let seed = try? SecureRandom.bytes(32)
        key = HMACKey(key: seed ?? [])
        entries = ExpiringCache(maxEntries: seed == nil ? 0 : maxEntries)
    }

    /// The MAC to look up and store `secret` under. Once the cache is in use it is computed for every request,
    /// hit or miss, so that the path a wrong secret takes does not depend on whether the client id is cached.
    func mac(of secret: String) -> [UInt8] {
        var secret = secret
        return secret.withUTF8 { key.authenticationCode(for: UnsafeRawBufferPointer($0)) }
    }

    /// The cached success for this client id and secret MAC, if one is still valid.
    func lookup(clientID: String, secretMAC: [UInt8]) -> AuthenticateResult? {
        guard let entry = entries.value(for: clientID), ConstantTime.equals(entry.secretMAC, secretMAC) else { return nil }
        return entry.result
    }

    func store(clientID: String, secretMAC: [UInt8], result: AuthenticateResult) {
        guard result.authenticated, result.cacheTTLMilliseconds > 0, entries.maxEntries > 0 else { return }
        if !isInUse { inUse.store(true, ordering: .relaxed) }
        entries.store(Entry(secretMAC: secretMAC, result: result), for: clientID, ttl: .milliseconds(result.cacheTTLMilliseconds))
    }

    /// Drops the entries of the ids given, or every entry for an empty list.
    func invalidate(_ clientIDs: [String]) {
        if clientIDs.isEmpty { entries.removeAll() } else { entries.remove(clientIDs) }
    }

    var count: Int { entries.count }
}
