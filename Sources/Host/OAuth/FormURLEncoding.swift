import PluginProtocol

/// `application/x-www-form-urlencoded` (WHATWG URL §5, as RFC 6749 Appendix B uses it): `+` is a space,
/// `%XX` a byte, and the decoded bytes must be UTF-8.
public enum FormURLEncoding {
    public struct Invalid: Error, Equatable {
        public let message: String
    }

    /// Decodes `a=1&b=2` into pairs in order. Empty pieces (`a=1&&b=2`) are skipped; more than `maxPairs`
    /// pairs are refused before the rest is decoded.
    public static func decode(_ bytes: some Collection<UInt8>, maxPairs: Int = .max) throws(Invalid) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        var start = bytes.startIndex
        while start != bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            defer { start = end == bytes.endIndex ? end : bytes.index(after: end) }
            let piece = bytes[start..<end]
            guard !piece.isEmpty else { continue }
            guard pairs.count < maxPairs else { throw Invalid(message: "more than \(maxPairs) parameters") }
            let equals = piece.firstIndex(of: UInt8(ascii: "="))
            let name = try decodeComponent(piece[piece.startIndex..<(equals ?? piece.endIndex)])
            let value = equals.map { try? decodeComponent(piece[piece.index(after: $0)...]) } ?? ""
            guard let value else { throw Invalid(message: "invalid encoding in parameter \(ErrorDescription.quoting(name))") }
            pairs.append((name, value))
        }
        return pairs
    }

    public static func decodeComponent(_ bytes: some Collection<UInt8>) throws(Invalid) -> String {
        // Most components (names, grant types, ids) have nothing to decode: their bytes are the text.
        let needsDecoding = bytes.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }
        if !needsDecoding, let text = bytes.withContiguousStorageIfAvailable({ UTF8Text.string(UnsafeRawBufferPointer($0)) }) {
            guard let text else { throw Invalid(message: "parameter is not valid UTF-8") }
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): out.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw Invalid(message: "invalid percent-encoding")
                }
                out.append(high << 4 | low)
            default: out.append(byte)
            }
        }
        guard let text = UTF8Text.string(out) else { throw Invalid(message: "parameter is not valid UTF-8") }
        return text
    }

    /// Encodes for a form body or Basic credentials: unreserved characters stay, space becomes `+`.
    public static func encodeComponent(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x20: out += "+"
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0xF)])
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
