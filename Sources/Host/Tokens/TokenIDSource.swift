import CryptoPrimitives
import Synchronization

/// Token ids (`jti`): 16 random bytes each, as base64url, from a buffer of the kernel's randomness refilled 4 KiB at
/// a time. A `getrandom` call per token was a system call on every request; this is one per 256 tokens.
///
/// A jti must be unique and unguessable, never secret (it is in the token): buffered bytes from the same source
/// are as unpredictable as bytes read one call at a time. Each byte is handed out once, and the buffer is never
/// shared with anything else (secrets and keys still read `SecureRandom` directly).
final class TokenIDSource: Sendable {
    static let byteCount = 16
    private static let refillBytes = 4096

    private struct Pool: ~Copyable {
        var bytes: [UInt8] = []
        var next = 0
    }

    private let pool = Mutex(Pool())

    func next() throws(SecureRandom.Failure) -> String {
        let id = try pool.withLock { pool throws(SecureRandom.Failure) -> ArraySlice<UInt8> in
            if pool.next + Self.byteCount > pool.bytes.count {
                pool.bytes = try SecureRandom.bytes(Self.refillBytes)
                pool.next = 0
            }
            defer { pool.next += Self.byteCount }
            return pool.bytes[pool.next..<(pool.next + Self.byteCount)]
        }
        return Base64.encode(Array(id), alphabet: .url)
    }
}
