import JOSE

/// The key lifecycle, as pure steps on a ring at a given time (tests drive them with a made-up clock).
///
/// A resource server caches the JWK Set for up to `jwksMaxAge`; a token whose `kid` it has not seen makes it
/// refetch or fail. So a key is published at least one max-age before it signs (the next key waits in the
/// set, ready), and a retired key stays published until every token it signed has expired.
///
///     next (published) ──rotate──▶ active (signs) ──rotate──▶ retiring (verifies) ──all tokens expired──▶ gone
extension SigningKeyRing {
    public struct Policy: Sendable {
        /// The algorithm the host signs with (`token.signing_algorithm`).
        public var algorithm: SignatureAlgorithm
        /// The JWK Set's `Cache-Control: max-age`.
        public var jwksMaxAge: Int64 = SigningKeyRing.jwksMaxAge
        /// Longest token lifetime: how long a retired key must keep verifying.
        public var maxTokenLifetime: Int64
        /// Automatic rotation after this long; nil turns it off (`token.key_rotation_days`).
        public var rotationPeriod: Int64?

        public init(algorithm: SignatureAlgorithm, maxTokenLifetime: Int64, rotationPeriod: Int64?) {
            self.algorithm = algorithm
            self.maxTokenLifetime = maxTokenLifetime
            self.rotationPeriod = rotationPeriod
        }
    }

    /// Seconds a resource server may cache the JWK Set.
    public static let jwksMaxAge: Int64 = 300

    public enum State: String, Sendable {
        case published, active, retiring
    }

    public func state(of key: SigningKey) -> State {
        if key.id == currentID { return .active }
        return key.retiredAt == nil ? .published : .retiring
    }

    /// Whether `key` may sign now without any resource server seeing an unknown `kid`: it is an HS256 key
    /// (never published), or it was published with the ring, or at least one max-age ago.
    public func maySign(_ key: SigningKey, now: Int64, jwksMaxAge: Int64) -> Bool {
        !key.algorithm.isAsymmetric || key.createdAt <= createdAt || now >= key.createdAt + jwksMaxAge
    }

    public enum RotationOutcome: Equatable, Sendable {
        case switched(to: String)
        /// The new key is published and takes over at this time (the host switches on its own).
        case scheduled(String, at: Int64)
    }

    /// `gatehouse keys rotate`: the next key of `algorithm` takes over now if it has been published long
    /// enough, and a fresh next key is published; otherwise one is published and scheduled.
    public func rotated(to algorithm: SignatureAlgorithm, now: Int64, policy: Policy) throws(Failure)
        -> (ring: SigningKeyRing, outcome: RotationOutcome)
    {
        var keys = self.keys
        let waiting = keys.firstIndex { $0.algorithm == algorithm && state(of: $0) == .published }
        let index: Int
        if let waiting { index = waiting } else {
            keys.append(try SigningKey.generate(algorithm, now: now))
            index = keys.count - 1
        }
        // Other waiting keys are no longer wanted; they never signed, so they can go at once.
        let candidate = keys[index]
        keys.removeAll { $0.id != candidate.id && $0.activatedAt == nil && $0.id != currentID }
        guard maySign(candidate, now: now, jwksMaxAge: policy.jwksMaxAge) else {
            let at = candidate.createdAt + policy.jwksMaxAge
            keys = keys.map { key in
                var key = key
                if key.id == candidate.id { key.activateAt = at }
                return key
            }
            return (try replacing(keys: keys, currentID: currentID), .scheduled(candidate.id, at: at))
        }
        return (try activating(candidate.id, in: keys, now: now), .switched(to: candidate.id))
    }

    /// The periodic step: drop keys whose tokens have all expired, make a scheduled or due switch, and keep
    /// a next key published. Nil when nothing changed (the common case, so nothing is written).
    public func advanced(now: Int64, policy: Policy) throws(Failure) -> SigningKeyRing? {
        var ring = self
        var changed = false
        let expired = keys.filter { key in key.retiredAt.map { $0 + policy.maxTokenLifetime < now } ?? false }
        // A withdrawn key is remembered as long as a token it signed could still be presented.
        let forgotten = withdrawn.filter { $0.withdrawnAt + policy.maxTokenLifetime < now }
        if !expired.isEmpty || !forgotten.isEmpty {
            ring = try SigningKeyRing(keys: keys.filter { key in !expired.contains { $0.id == key.id } }, currentID: currentID,
                                      createdAt: createdAt, withdrawn: withdrawn.filter { entry in !forgotten.contains { $0.id == entry.id } })
            changed = true
        }
        if let due = ring.keys.first(where: { $0.activateAt.map { $0 <= now } ?? false && ring.state(of: $0) == .published }) {
            ring = try ring.activating(due.id, in: ring.keys, now: now)
            changed = true
        } else if let period = policy.rotationPeriod, period > 0, let since = ring.current.activatedAt, now >= since + period,
            !ring.keys.contains(where: { $0.activateAt != nil && ring.state(of: $0) == .published })
        {
            let (rotated, _) = try ring.rotated(to: ring.current.algorithm, now: now, policy: policy)
            ring = rotated
            changed = true
        }
        let target = ring.current.algorithm
        if target.isAsymmetric, !ring.keys.contains(where: { ring.state(of: $0) == .published }) {
            ring = try ring.replacing(keys: ring.keys + [try SigningKey.generate(target, now: now)], currentID: ring.currentID)
            changed = true
        }
        return changed ? ring : nil
    }

    /// `id` becomes the active key now; the previous one retires and keeps verifying its tokens.
    func activating(_ id: String, in keys: [SigningKey], now: Int64) throws(Failure) -> SigningKeyRing {
        let previous = currentID
        let updated = keys.map { key in
            var key = key
            if key.id == id {
                key.activatedAt = now
                key.activateAt = nil
            } else if key.id == previous {
                key.retiredAt = now
            }
            return key
        }
        var ring = try replacing(keys: updated, currentID: id)
        if let algorithm = ring.keys.first(where: { $0.id == id })?.algorithm, algorithm.isAsymmetric {
            ring = try ring.replacing(keys: ring.keys + [try SigningKey.generate(algorithm, now: now)], currentID: id)
        }
        return ring
    }

    /// The same ring (its start and withdrawals) with other keys.
    func replacing(keys: [SigningKey], currentID: String) throws(Failure) -> SigningKeyRing {
        try SigningKeyRing(keys: keys, currentID: currentID, createdAt: createdAt, withdrawn: withdrawn)
    }
}
