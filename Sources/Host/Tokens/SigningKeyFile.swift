import Glibc
import JOSE

/// Read-modify-write of `<data>/signing-keys.json` under an exclusive `flock` on `signing-keys.lock`, so
/// `gatehouse keys rotate` and a running host's periodic lifecycle step never lose each other's change.
enum SigningKeyFile {
    /// Loads (creating if missing), applies `change`, and saves when it returns a new ring.
    static func update(directory: String, now: Int64, algorithm: SignatureAlgorithm,
                       _ change: (SigningKeyRing) throws(SigningKeyRing.Failure) -> SigningKeyRing?) throws(SigningKeyRing.Failure)
        -> SigningKeyRing
    {
        let lockPath = directory + "/signing-keys.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .init(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }  // Closing releases the lock.
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .init(description: "cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        let ring = try SigningKeyRing.loadOrCreate(directory: directory, now: now, algorithm: algorithm)
        guard let changed = try change(ring) else { return ring }
        try changed.save(to: SigningKeyRing.path(in: directory))
        return changed
    }

    /// At start: the ring in line with the configured algorithm (a switch is scheduled if the new key must
    /// first be published), expired keys dropped, a next key published.
    static func prepare(directory: String, now: Int64, policy: SigningKeyRing.Policy) throws(SigningKeyRing.Failure) -> SigningKeyRing {
        try update(directory: directory, now: now, algorithm: policy.algorithm) { ring throws(SigningKeyRing.Failure) in
            var ring = ring
            var changed = false
            let pending = ring.keys.contains { $0.algorithm == policy.algorithm && $0.activateAt != nil }
            if ring.current.algorithm != policy.algorithm, !pending {
                ring = try ring.rotated(to: policy.algorithm, now: now, policy: policy).ring
                changed = true
            }
            if let advanced = try ring.advanced(now: now, policy: policy) { return advanced }
            return changed ? ring : nil
        }
    }
}
