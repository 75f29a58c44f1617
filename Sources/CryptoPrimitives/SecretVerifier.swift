import Glibc

/// Salted SHA-256 verifiers for client secrets, named by scheme so they can be upgraded later.
///
/// Stored form: `sha256-salted-v1$<salt>$<digest>` (base64url). A fast hash is sound here because every
/// secret Gatehouse accepts carries at least 128 bits of entropy (`SecretStrength`): there is nothing to
/// brute-force that a slow hash would protect, and token issuance stays fast (DESIGN.md, "Client secrets").
public enum SecretVerifier {
    public static let scheme = "sha256-salted-v1"

    /// A new verifier for `secret` with a fresh 16-byte salt.
    public static func make(secret: String) throws(SecureRandom.Failure) -> String {
        let salt = try SecureRandom.bytes(16)
        return "\(scheme)$\(Base64.encode(salt, alphabet: .url))$\(Base64.encode(digest(salt: salt, secret: secret), alphabet: .url))"
    }

    /// True if `secret` matches `verifier`. Unknown schemes and malformed verifiers never match.
    /// The comparison is constant-time; the work does not depend on where a wrong secret differs.
    public static func matches(secret: String, verifier: String) -> Bool {
        guard let (salt, expected) = parse(verifier) else { return false }
        return ConstantTime.equals(digest(salt: salt, secret: secret), expected)
    }

    /// Salt and digest of a verifier in our scheme; nil for anything else. Works on UTF-8 bytes: this runs
    /// twice per token request.
    private static func parse(_ verifier: String) -> (salt: [UInt8], digest: [UInt8])? {
        let bytes = Array(verifier.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "$"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual(scheme.utf8),
            let salt = parts[1].withUnsafeBytes({ Base64.decode($0, alphabet: .url) }),
            let digest = parts[2].withUnsafeBytes({ Base64.decode($0, alphabet: .url) })
        else { return nil }
        return (salt, digest)
    }

    /// A verifier no secret matches in practice, checked against when the client is unknown so that an
    /// unknown id costs the same work as a wrong secret.
    public static let decoy: String = {
        let salt = [UInt8](repeating: 0x5A, count: 16)
        return "\(scheme)$\(Base64.encode(salt, alphabet: .url))$\(Base64.encode([UInt8](repeating: 0, count: 32), alphabet: .url))"
    }()

    private static func digest(salt: [UInt8], secret: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(salt)
        hasher.update(Array(secret.utf8))
        return hasher.finalize()
    }
}

/// Whether an operator-chosen secret is strong enough to be verified with a fast hash.
public enum SecretStrength {
    public static let minimumLength = 32
    public static let minimumBits = 128.0

    /// Nil if acceptable, otherwise what is wrong with it, in words an operator can act on.
    public static func problem(with secret: String) -> String? {
        let scalars = Array(secret.unicodeScalars)
        guard scalars.count >= minimumLength else {
            return "secret must be at least \(minimumLength) characters (got \(scalars.count)); let Gatehouse generate one"
        }
        guard scalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            return "secret must be printable ASCII without spaces"
        }
        var alphabet = 0
        if scalars.contains(where: { ("a"..."z").contains($0) }) { alphabet += 26 }
        if scalars.contains(where: { ("A"..."Z").contains($0) }) { alphabet += 26 }
        if scalars.contains(where: { ("0"..."9").contains($0) }) { alphabet += 10 }
        if scalars.contains(where: { !($0.properties.isAlphabetic || ("0"..."9").contains($0)) }) { alphabet += 33 }
        // Repetition caps the estimate: "abababab…" has length but no entropy.
        let distinct = Set(scalars).count
        let effectiveLength = Double(min(scalars.count, distinct * 4))
        let bits = effectiveLength * log2(Double(max(alphabet, 2)))
        guard distinct >= 10, bits >= minimumBits else {
            return "secret is too predictable (about \(Int(bits)) bits; at least \(Int(minimumBits)) needed); let Gatehouse generate one"
        }
        return nil
    }

    /// A new secret: 256 bits from the CSPRNG as 43 base64url characters.
    public static func generate() throws(SecureRandom.Failure) -> String {
        try SecureRandom.token(byteCount: 32)
    }
}
