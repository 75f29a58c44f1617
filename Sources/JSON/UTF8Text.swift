/// Strict UTF-8 to `String`, quickly for ASCII.
///
/// `String(validating:as:)` goes through a generic entry point of the standard library that looks up type
/// metadata at run time on every call: in profiles of the plugin round trip and the token endpoint it cost more
/// than the parsing around it. Nearly every string here (ids, scopes, field names, secrets) is ASCII, which is
/// valid UTF-8 as it stands; only the rest takes the generic path.
public enum UTF8Text {
    /// The text of `bytes`, or nil if they are not valid UTF-8.
    public static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        if isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    public static func string(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { string($0) }
    }

    /// True if no byte has the high bit set; eight bytes at a time.
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
