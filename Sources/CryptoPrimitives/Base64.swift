/// Base64 (RFC 4648 §4, with padding) and base64url (§5, without padding, as JWTs use it).
///
/// Decoding is strict: characters outside the alphabet, misplaced padding and non-zero trailing bits are
/// refused, so one token or header has exactly one accepted spelling.
public enum Base64 {
    public enum Alphabet: Sendable {
        case standard
        case url
    }

    private static let standardTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlTable = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let standardDecode = decodeTable(standardTable)
    private static let urlDecode = decodeTable(urlTable)

    private static func decodeTable(_ table: [UInt8]) -> [UInt8] {
        var decode = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in table.enumerated() { decode[Int(character)] = UInt8(value) }
        return decode
    }

    /// Encodes; `.standard` pads with `=`, `.url` does not pad.
    public static func encode(_ bytes: [UInt8], alphabet: Alphabet = .standard) -> String {
        String(decoding: encodeBytes(bytes, alphabet: alphabet), as: UTF8.self)
    }

    public static func encodeBytes(_ bytes: [UInt8], alphabet: Alphabet) -> [UInt8] {
        let table = alphabet == .standard ? standardTable : urlTable
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(table[Int(value >> 18 & 63)])
            out.append(table[Int(value >> 12 & 63)])
            out.append(table[Int(value >> 6 & 63)])
            out.append(table[Int(value & 63)])
            index += 3
        }
        let remaining = bytes.count - index
        if remaining > 0 {
            var value = UInt32(bytes[index]) << 16
            if remaining == 2 { value |= UInt32(bytes[index + 1]) << 8 }
            out.append(table[Int(value >> 18 & 63)])
            out.append(table[Int(value >> 12 & 63)])
            if remaining == 2 { out.append(table[Int(value >> 6 & 63)]) }
            if alphabet == .standard {
                out.append(contentsOf: remaining == 2 ? [UInt8(ascii: "=")] : [UInt8(ascii: "="), UInt8(ascii: "=")])
            }
        }
        return out
    }

    public static func decode(_ text: String, alphabet: Alphabet = .standard) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0), alphabet: alphabet) }
    }

    /// Decodes, or nil if the input is not canonical base64 in that alphabet.
    public static func decode(_ input: UnsafeRawBufferPointer, alphabet: Alphabet) -> [UInt8]? {
        var count = input.count
        if alphabet == .standard {
            guard count % 4 == 0 else { return nil }
            if count > 0 && input[count - 1] == UInt8(ascii: "=") { count -= 1 }
            if count > 0 && input[count - 1] == UInt8(ascii: "=") { count -= 1 }
        }
        guard count % 4 != 1 else { return nil }
        let table = alphabet == .standard ? standardDecode : urlDecode
        var out: [UInt8] = []
        out.reserveCapacity(count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for index in 0..<count {
            let value = table[Int(input[index])]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero: "QR==" and "QQ==" must not both decode to "A".
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
