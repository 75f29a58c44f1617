/// Base64 (RFC 4648 §4, with padding) and base64url (§5, without padding, as JWTs use it).
///
/// Decoding is strict: characters outside the alphabet, misplaced padding and non-zero trailing bits are
/// refused, so one token or header has exactly one accepted spelling.
public enum Base64 {
    public enum Alphabet: Sendable {
        case standard
        case url
    }

    // StaticStrings: their bytes are read through a pointer, with no array to retain or bounds to check per byte.
    private static let standardAlphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    private static let urlAlphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    private static let standardDecode = decodeTable(standardAlphabet)
    private static let urlDecode = decodeTable(urlAlphabet)

    private static func decodeTable(_ alphabet: StaticString) -> [UInt8] {
        var decode = [UInt8](repeating: 0xFF, count: 256)
        for value in 0..<64 { decode[Int(alphabet.utf8Start[value])] = UInt8(value) }
        return decode
    }

    /// Encodes; `.standard` pads with `=`, `.url` does not pad.
    public static func encode(_ bytes: [UInt8], alphabet: Alphabet = .standard) -> String {
        String(decoding: encodeBytes(bytes, alphabet: alphabet), as: UTF8.self)
    }

    public static func encodeBytes(_ bytes: [UInt8], alphabet: Alphabet) -> [UInt8] {
        bytes.withUnsafeBytes { encodeBytes($0, alphabet: alphabet) }
    }

    public static func encodeBytes(_ input: UnsafeRawBufferPointer, alphabet: Alphabet) -> [UInt8] {
        let length = encodedLength(input.count, alphabet: alphabet)
        return [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
            encode(input, alphabet: alphabet, into: out)
            initialized = length
        }
    }

    /// Encodes `bytes` onto the end of `out`: for texts built of several parts (a JWT) in one buffer.
    public static func append(_ bytes: [UInt8], alphabet: Alphabet, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: encodedLength(bytes.count, alphabet: alphabet)))
        out.withUnsafeMutableBufferPointer { buffer in
            bytes.withUnsafeBytes { encode($0, alphabet: alphabet, into: UnsafeMutableBufferPointer(rebasing: buffer[start...])) }
        }
    }

    private static func encodedLength(_ count: Int, alphabet: Alphabet) -> Int {
        let remaining = count % 3
        return count / 3 * 4 + (remaining == 0 ? 0 : alphabet == .standard ? 4 : remaining + 1)
    }

    /// Writes the encoding of `input` into `out`, which holds exactly `encodedLength(input.count)` bytes.
    private static func encode(_ input: UnsafeRawBufferPointer, alphabet: Alphabet, into out: UnsafeMutableBufferPointer<UInt8>) {
        let table = (alphabet == .standard ? standardAlphabet : urlAlphabet).utf8Start
        let whole = input.count / 3
        let remaining = input.count - whole * 3
        let length = out.count
        var index = 0
        var written = 0
        for _ in 0..<whole {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            out[written] = table[Int(value >> 18 & 63)]
            out[written + 1] = table[Int(value >> 12 & 63)]
            out[written + 2] = table[Int(value >> 6 & 63)]
            out[written + 3] = table[Int(value & 63)]
            index += 3
            written += 4
        }
        if remaining > 0 {
            var value = UInt32(input[index]) << 16
            if remaining == 2 { value |= UInt32(input[index + 1]) << 8 }
            out[written] = table[Int(value >> 18 & 63)]
            out[written + 1] = table[Int(value >> 12 & 63)]
            written += 2
            if remaining == 2 {
                out[written] = table[Int(value >> 6 & 63)]
                written += 1
            }
            while written < length {  // `.standard` pads to a multiple of four.
                out[written] = UInt8(ascii: "=")
                written += 1
            }
        }
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
        let decodeTable = alphabet == .standard ? standardDecode : urlDecode
        var accumulator: UInt32 = 0
        var bits = 0
        var valid = true
        let out = decodeTable.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: count * 3 / 4) { out, initialized in
                var written = 0
                for index in 0..<count {
                    let value = table[Int(input[index])]
                    guard value != 0xFF else {
                        valid = false
                        break
                    }
                    accumulator = accumulator << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        out[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                        written += 1
                    }
                }
                initialized = written
            }
        }
        guard valid else { return nil }
        // Leftover bits must be zero: "QR==" and "QQ==" must not both decode to "A".
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
