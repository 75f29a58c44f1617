import CLibCrypto

/// A failure of the JOSE layer. OpenSSL's error queue is drained into `detail` (its reason strings never
/// contain key material), so a failed call leaves nothing behind for the next caller on this thread.
public struct JOSEError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// The failed OpenSSL call and the first reason on the queue; the queue is emptied.
    static func openssl(_ call: String) -> JOSEError {
        var first: UInt = 0
        while case let code = ERR_get_error(), code != 0 {
            if first == 0 { first = code }
        }
        guard first != 0 else { return JOSEError("\(call) failed") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(first, &buffer, buffer.count)
        let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return JOSEError("\(call) failed: \(reason)")
    }
}
