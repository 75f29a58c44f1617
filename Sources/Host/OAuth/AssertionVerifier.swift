import JOSE
import PluginProtocol
import Synchronization

/// Checks a client's JWT assertion against the client's registered public keys (RFC 7523 §3, OIDC Core §9
/// `private_key_jwt`): signature first, then every claim, then this host's replay cache, then the store's.
///
/// Equal work for every failure: an unknown client, a client without keys and an unknown `kid` still cost
/// one signature verification (against a decoy key of the header's algorithm), like a wrong secret costs a
/// hash for an unknown client in the store.
final class AssertionVerifier: Sendable {
    struct Settings: Sendable {
        /// `aud` values that name this server: its issuer and its endpoint URLs (RFC 7523 §3 item 3).
        var audiences: Set<String>
        /// The longest an assertion may be valid for (`exp` - `iat`, or `exp` - now). An hour, Okta's bound
        /// too: Prometheus signs its assertions for 10 minutes, Authlib's `PrivateKeyJWT` for an hour.
        var maxLifetime: Int64 = 3600
        /// Tolerated for `exp`, `nbf` and `iat` against other machines' clocks.
        var clockSkew: Int64 = 30
    }

    /// RFC 7518 §3.1 / RFC 8037 §3.1: asymmetric only. No `none`, and no HMAC, whose "secret" would be the
    /// public key anyone can read.
    static let allowedAlgorithms: [String: SignatureAlgorithm] = ["RS256": .rs256, "ES256": .es256, "EdDSA": .edDSA]

    /// What `check` concluded: the assertion is good and new to this host (the store has the last word on
    /// its `jti`), or the audit reason it is not.
    enum Verdict: Equatable {
        case fresh(tokenID: String, expiresAt: Int64)
        case refused(String)
    }

    let settings: Settings
    let replays: AssertionReplayCache
    /// Nil: this host's cache alone (in-process tests without a store).
    let shared: SharedAssertionReplays?
    /// Keys built from JWKs, reused while the record's JWK is unchanged: building an RSA key costs more than
    /// verifying with it.
    private let keys = Mutex<[String: (jwk: [String: String], key: AsymmetricKey)]>([:])
    /// Made once per process, on first use (an RSA key takes tens of milliseconds to generate).
    private static let decoys: [SignatureAlgorithm: AsymmetricKey] = {
        var decoys: [SignatureAlgorithm: AsymmetricKey] = [:]
        for algorithm in [SignatureAlgorithm.rs256, .es256, .edDSA] { decoys[algorithm] = try? AsymmetricKey.generate(algorithm) }
        return decoys
    }()

    init(settings: Settings, replays: AssertionReplayCache = AssertionReplayCache(), shared: SharedAssertionReplays? = nil) {
        self.settings = settings
        self.replays = replays
        self.shared = shared
    }

    /// `check`, then the store's word on the `jti`: nil when `text` proves `client`, else the audit reason; a
    /// failure when the store could not answer (the request fails closed, and this host forgets the `jti`
    /// again, since the assertion was not accepted). `keys` as for `check`.
    func verify(_ text: String, client: ClientRecord?, keys: [PublicKeyInfo]? = nil, now: Int64,
                completion: @escaping @Sendable (Result<String?, PluginCallError>) -> Void)
    {
        let verdict = check(text, client: client, keys: keys, now: now)
        guard case .fresh(let tokenID, let expiresAt) = verdict, let client else {
            if case .refused(let reason) = verdict { return completion(.success(reason)) }
            return completion(.success("unknown_client"))  // `check` is fresh only with a client
        }
        guard let shared else { return completion(.success(nil)) }
        shared.consume(clientID: client.id, tokenID: tokenID, expiresAt: expiresAt) { [replays] outcome in
            switch outcome {
            case .success(let fresh): completion(.success(fresh ? nil : "replayed_assertion"))
            case .failure(let error):
                replays.remove(clientID: client.id, tokenID: tokenID)
                completion(.failure(error))
            }
        }
    }

    /// Every check this host can make alone, ending with its own replay cache. `keys` are the client's keys
    /// from its `jwksUri` (`JWKSetFetcher`); without them, its registered `publicKeys`.
    func check(_ text: String, client: ClientRecord?, keys: [PublicKeyInfo]? = nil, now: Int64) -> Verdict {
        guard let assertion = ClientAssertion(text) else { return .refused("malformed_assertion") }
        guard let algorithm = Self.allowedAlgorithms[assertion.algorithm] else { return .refused("assertion_alg_not_allowed") }
        let keys = keys ?? client?.publicKeys ?? []
        let candidates = client.map { candidateKeys($0.id, keys, assertion: assertion, algorithm: algorithm) } ?? []
        var verified = false
        if candidates.isEmpty {
            _ = Self.decoys[algorithm]?.verify(assertion.signature, for: assertion.signingInput)
        }
        for key in candidates where key.verify(assertion.signature, for: assertion.signingInput) { verified = true }
        guard let client else { return .refused("unknown_client") }
        guard client.usesKeys else { return .refused("client_has_no_keys") }
        guard verified else { return .refused(candidates.isEmpty ? "unknown_key" : "bad_signature") }
        guard client.enabled else { return .refused("disabled") }
        // RFC 7523 §3 items 1-2: iss and sub are the client id for client authentication (and for the grant,
        // where this server issues tokens only to clients themselves).
        guard assertion.issuer == client.id, assertion.subject == client.id else { return .refused("wrong_issuer_or_subject") }
        guard assertion.audiences.contains(where: settings.audiences.contains) else { return .refused("wrong_audience") }
        // Item 4: exp is required; and bounded, so a stolen assertion is not a long-lived credential.
        guard let expiresAt = assertion.expiresAt else { return .refused("missing_exp") }
        guard now < expiresAt + settings.clockSkew else { return .refused("expired") }
        let start = min(assertion.issuedAt ?? now, now)
        guard expiresAt - start <= settings.maxLifetime + settings.clockSkew else { return .refused("lifetime_too_long") }
        // Items 5-6: not before nbf, and not issued in the future.
        if let notBefore = assertion.notBefore, notBefore > now + settings.clockSkew { return .refused("not_yet_valid") }
        if let issuedAt = assertion.issuedAt, issuedAt > now + settings.clockSkew { return .refused("issued_in_future") }
        // Item 7: jti required here, and never accepted twice while the assertion could still be valid.
        // Bounded (AssertionReplays.isValidTokenID) before it is kept here or in the store.
        guard let tokenID = assertion.tokenID, AssertionReplays.isValidTokenID(tokenID) else { return .refused("missing_jti") }
        // Kept until the assertion cannot be valid any more, on any clock within the skew.
        let keepUntil = expiresAt + settings.clockSkew
        switch replays.insert(clientID: client.id, tokenID: tokenID, expiresAt: keepUntil, now: now) {
        case .accepted: return .fresh(tokenID: tokenID, expiresAt: keepUntil)
        case .replayed: return .refused("replayed_assertion")
        case .full: return .refused("replay_cache_full")
        }
    }

    /// The client's keys the header can mean: the one its `kid` names, or without a `kid` every key of the
    /// header's algorithm (at most `ClientKeys.maxKeysPerClient`).
    private func candidateKeys(_ clientID: String, _ keys: [PublicKeyInfo], assertion: ClientAssertion,
                               algorithm: SignatureAlgorithm) -> [AsymmetricKey]
    {
        keys.filter { info in
            info.algorithm == algorithm.rawValue && (assertion.keyID == nil || assertion.keyID == info.keyID)
        }.compactMap { info in key(clientID: clientID, info) }
    }

    private func key(clientID: String, _ info: PublicKeyInfo) -> AsymmetricKey? {
        let name = clientID + "\u{0}" + info.keyID
        if let cached = keys.withLock({ $0[name] }), cached.jwk == info.jwk { return cached.key }
        guard let algorithm = Self.allowedAlgorithms[info.algorithm],
            let key = try? AsymmetricKey(publicJWK: info.jwk, algorithm: algorithm)
        else { return nil }
        keys.withLock { entries in
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[name] = (info.jwk, key)
        }
        return key
    }
}
