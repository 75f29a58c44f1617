import JOSE
import JSON
import PluginProtocol

/// `gatehouse keys withdraw KID`: a compromised key leaves the ring at once, unlike a rotation, which keeps the
/// old key verifying until its tokens expire. Every token it signed stops verifying here as soon as the
/// running host re-reads the key file (within a second), the JWK Set no longer lists it, and the other hosts
/// are told through the store (`SigningKeyExchange` publishes it with a `notAfter` in the past, which makes
/// every store delete it). Its private half is dropped; only the public half is remembered, until no token it
/// signed could still be unexpired, so `keys list` shows it and a restarted host tells the store again.
extension SigningKeyRing {
    public struct Withdrawal: Sendable, Equatable {
        public let id: String
        public let algorithm: SignatureAlgorithm
        public let withdrawnAt: Int64
        /// Public JWK members (`kty`, `n`, `e`, `crv`, `x`, `y`); empty for HS256, which was never published.
        public let publicJWK: [String: String]

        init(id: String, algorithm: SignatureAlgorithm, withdrawnAt: Int64, publicJWK: [String: String]) {
            self.id = id
            self.algorithm = algorithm
            self.withdrawnAt = withdrawnAt
            self.publicJWK = publicJWK
        }

        init(json: JSONValue) throws {
            let reader = try JSONObjectReader(json, what: "withdrawn key")
            let name = try reader.string("alg")
            guard let algorithm = SignatureAlgorithm(rawValue: name) else { throw JSONShapeError("unknown key algorithm '\(name)'") }
            var members: [String: String] = [:]
            let jwk = try reader.members["jwk"].map { value throws(JSONShapeError) in try JSONObjectReader(value, what: "jwk").members }
            for (member, value) in jwk ?? [:] {
                // Public members only: a private one in the file is a hand edit, and never goes to the store.
                guard PublicKeyInfo.publicMembers.contains(member), let text = value.stringValue else { continue }
                members[member] = text
            }
            self.init(id: try reader.string("kid"), algorithm: algorithm, withdrawnAt: try reader.int("withdrawnAt"), publicJWK: members)
        }

        var json: JSONValue {
            ["kid": .string(id), "alg": .string(algorithm.rawValue), "withdrawnAt": .int(withdrawnAt),
             "jwk": .object(publicJWK.mapValues { .string($0) })]
        }
    }

    public enum WithdrawalOutcome: Equatable, Sendable {
        /// A key that was not signing (the published next key or a retiring one) is gone.
        case removed
        /// It was the active key: `to` signs from now on.
        case switched(to: String)
    }

    /// The ring without `id`. If `id` signs, the published next key takes over now (even if it was published
    /// less than one max-age ago: a compromised key must stop at once) and a new next key is published. With
    /// no other key that could sign, it refuses unless `force`, because a brand-new key then signs before any
    /// resource server could have seen it (or, for HS256, every token issued so far stops working).
    public func withdrawing(_ id: String, now: Int64, policy: Policy, force: Bool) throws(Failure)
        -> (ring: SigningKeyRing, outcome: WithdrawalOutcome)
    {
        try refuseWithdrawingAgain(id)
        guard let key = key(id: id) else {
            // `gatehouse keys withdraw` looks for it among the store's keys then (`withdrawingPublished`).
            throw Failure(description: "no key \(id) in this host's key ring (`gatehouse keys list` shows its keys)")
        }
        var members: [String: String] = [:]
        if case .asymmetric(let pair) = key.material, let jwk = try? pair.publicJWK() {
            members = jwk.filter { PublicKeyInfo.publicMembers.contains($0.key) }
        }
        let entry = Withdrawal(id: id, algorithm: key.algorithm, withdrawnAt: now, publicJWK: members)
        let remembered = withdrawn + [entry]
        let others = keys.filter { $0.id != id }
        guard id == currentID else {
            var ring = try SigningKeyRing(keys: others, currentID: currentID, createdAt: createdAt, withdrawn: remembered)
            // The withdrawn key may have been the published next key: publish a new one in its place.
            if current.algorithm.isAsymmetric, !ring.keys.contains(where: { ring.state(of: $0) == .published }) {
                ring = try ring.replacing(keys: ring.keys + [try SigningKey.generate(current.algorithm, now: now)], currentID: currentID)
            }
            return (ring, .removed)
        }
        let waiting = others.filter { state(of: $0) == .published }
        let successor = waiting.first { $0.algorithm == key.algorithm } ?? waiting.first
        var keys = others
        if successor == nil {
            guard force else {
                throw Failure(description: key.algorithm.isAsymmetric
                    ? "\(id) is the only key that can sign and no next key is published: a new key would sign at once, "
                        + "before resource servers that cached the JWK Set (up to \(policy.jwksMaxAge) s) know it, so they "
                        + "refuse new tokens until they fetch it again. Run with --force to withdraw it anyway"
                    : "\(id) is the only key that can sign: a new key will sign at once and every token signed with "
                        + "\(id) stops working. Run with --force to withdraw it anyway")
            }
            keys.append(try SigningKey.generate(key.algorithm, now: now))
        }
        let next = successor?.id ?? keys[keys.count - 1].id
        // `activating` retires the withdrawn key; it is dropped instead, so nothing it signed verifies.
        let switched = try SigningKeyRing(keys: keys + [key], currentID: id, createdAt: createdAt, withdrawn: remembered)
            .activating(next, in: keys + [key], now: now)
        let ring = try switched.replacing(keys: switched.keys.filter { $0.id != id }, currentID: next)
        return (ring, .switched(to: next))
    }

    /// The ring with `key`, another host's key as the store publishes it, remembered as withdrawn: for a host
    /// that is gone (decommissioned, its data directory with it) whose key leaked. This host then tells the
    /// store as it does for its own withdrawn keys (a `notAfter` in the past, which makes the store delete it and
    /// every host drop it from its union), and never installs the key again, even if the store still lists it.
    public func withdrawingPublished(_ key: HostPublicKey, now: Int64) throws(Failure) -> SigningKeyRing {
        try refuseWithdrawingAgain(key.keyID)
        guard self.key(id: key.keyID) == nil else {
            throw Failure(description: "\(key.keyID) is this host's own key: withdraw it as such")
        }
        guard let algorithm = SignatureAlgorithm(rawValue: key.algorithm), algorithm.isAsymmetric else {
            throw Failure(description: "the store's key \(key.keyID) has algorithm \(key.algorithm), which no store may publish")
        }
        let entry = Withdrawal(id: key.keyID, algorithm: algorithm, withdrawnAt: now,
                               publicJWK: key.jwk.filter { PublicKeyInfo.publicMembers.contains($0.key) })
        return try SigningKeyRing(keys: keys, currentID: currentID, createdAt: createdAt, withdrawn: withdrawn + [entry])
    }

    private func refuseWithdrawingAgain(_ id: String) throws(Failure) {
        if let earlier = withdrawn.first(where: { $0.id == id }) {
            throw Failure(description: "key \(id) was already withdrawn at \(earlier.withdrawnAt); its tokens are refused")
        }
    }
}
