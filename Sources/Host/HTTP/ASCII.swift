/// Byte-level comparisons for protocol elements that are ASCII by definition (schemes, media types, field
/// values that are tokens). `String.lowercased()` and `Character` searches are Unicode-aware and cost
/// thousands of instructions on every request; these cost a loop.
extension Sequence<UInt8> {
    /// True if these bytes equal `lowercase` ignoring ASCII case; `lowercase` must be lowercase ASCII.
    func equalsIgnoringASCIICase(_ lowercase: String) -> Bool {
        // Over contiguous bytes (a header's text, a literal) the loop compiles to a few instructions a byte;
        // through the Substring views' indices it cost hundreds per comparison.
        if let equal = withContiguousStorageIfAvailable({ bytes in
            lowercase.utf8.withContiguousStorageIfAvailable { ASCII.equalIgnoringCase(bytes, $0) }
        }), let equal {
            return equal
        }
        return elementsEqual(lowercase.utf8) { byte, expected in ASCII.lowercased(byte) == expected }
    }
}

enum ASCII {
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    static func equalIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in bytes.indices where lowercased(bytes[index]) != lowercase[index] { return false }
        return true
    }

    /// The media type of a `Content-Type` value (RFC 9110 §8.3.1) is `lowercase`, ignoring case: what comes
    /// before any parameters (`; charset=…`), without optional whitespace.
    static func hasMediaType(_ value: String, _ lowercase: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            let end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
            return trimmingOWS(UnsafeBufferPointer(rebasing: bytes[..<end])).equalsIgnoringASCIICase(lowercase)
        }
    }

    /// Without optional whitespace (RFC 9110 §5.6.3: spaces and horizontal tabs) at either end.
    static func trimmingOWS(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }
}
