import Glibc
import SystemShims

/// Bytes from the kernel's CSPRNG (getrandom(2)), for secrets, salts, token ids and signing keys.
public enum SecureRandom {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func bytes(_ count: Int) throws(Failure) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = out.withUnsafeMutableBytes { raw in
                gatehouse_getrandom(raw.baseAddress! + filled, count - filled)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "getrandom failed: \(String(cString: strerror(errno)))")
            }
            filled += result
        }
        return out
    }

    /// `count` random bytes as base64url text: the alphabet of client secrets and token ids.
    public static func token(byteCount: Int) throws(Failure) -> String {
        Base64.encode(try bytes(byteCount), alphabet: .url)
    }
}
