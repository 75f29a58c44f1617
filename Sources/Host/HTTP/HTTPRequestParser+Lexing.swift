import Glibc
import JSON

/// The byte-level pieces of `HTTPRequestParser`: byte-class tables, line splitting and number parsing, each
/// working on raw bytes so the per-request path never decodes a String it does not keep.
extension HTTPRequestParser {
    /// Byte classes as 256-entry tables: one load per byte on the per-request path.
    static func table(_ member: (UInt8) -> Bool) -> [Bool] { (0...255).map { member(UInt8($0)) } }

    /// `tchar` (RFC 9110 §5.6.2): method and field-name bytes.
    static let tokenBytes = table { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
    /// Visible ASCII: request-target bytes.
    static let targetBytes = table { $0 > 0x20 && $0 < 0x7F }
    /// Field values: visible bytes, obs-text, space and tab; never other controls or DEL (RFC 9110 §5.5).
    static let fieldValueBytes = table { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }

    static func all(_ bytes: UnsafeRawBufferPointer, _ table: [Bool]) -> Bool {
        table.withUnsafeBufferPointer { table in
            for byte in bytes where !table[Int(byte)] { return false }
            return true
        }
    }

    static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// A field name as its lowercase String (names are tokens, so ASCII), without `String.lowercased()`.
    static func lowercasedString(_ name: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: name.count) { buffer in
            for (index, byte) in name.enumerated() {
                buffer[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return name.count
        }
    }

    /// A field value as text: ASCII (nearly every value) copied as it is, anything else (obs-text) decoded
    /// with invalid UTF-8 replaced, as `String(decoding:)` does, which validates every byte even of ASCII.
    static func text(_ value: UnsafeRawBufferPointer) -> String {
        guard UTF8Text.isASCII(value) else { return String(decoding: value, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: value.count) { buffer in
            _ = buffer.initialize(from: value)
            return value.count
        }
    }

    /// The CRLF-terminated lines of a head (the last one runs to the end); a bare CR or LF is an error.
    struct Lines {
        let head: UnsafeRawBufferPointer
        var start = 0
        var done = false

        init(_ head: UnsafeRawBufferPointer) { self.head = head }

        mutating func next() -> Result<UnsafeRawBufferPointer, HTTPError>? {
            guard !done else { return nil }
            let end = HTTPRequestParser.index(of: 0x0D, in: head, from: start) ?? head.count
            let line = UnsafeRawBufferPointer(rebasing: head[start..<end])
            if HTTPRequestParser.index(of: 0x0A, in: line, from: 0) != nil {
                done = true
                return .failure(.badRequest("bare LF in head"))
            }
            if end == head.count {
                done = true
            } else {
                guard end + 1 < head.count, head[end + 1] == 0x0A else {
                    done = true
                    return .failure(.badRequest("bare CR in head"))
                }
                start = end + 2
            }
            return .success(line)
        }
    }

    /// Where the head's CRLF CRLF starts, at `start` or later. Found line by line, each LF with memchr: a loop
    /// over every byte of the head cost more than the rest of the scan.
    static func find(crlfcrlf bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var from = start + 3
        while let lf = index(of: 0x0A, in: bytes, from: from) {
            if bytes[lf - 1] == 0x0D && bytes[lf - 2] == 0x0A && bytes[lf - 3] == 0x0D { return lf - 3 }
            from = lf + 1
        }
        return nil
    }

    static func find(crlf bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 0x0D && bytes[index + 1] == 0x0A { return index }
        return nil
    }

    /// A value of 1 to 18 ASCII digits as a number; nil for anything else (left to the general path).
    static func decimal(_ text: String) -> Int? {
        guard (1...18).contains(text.utf8.count) else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The hex size before any `;extension`; nil if malformed or absurd.
    static func chunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ";"), 0x20, 0x09:
                return digits > 0 ? size : nil
            default: return nil
            }
            digits += 1
            guard digits <= 8 else { return nil }
            size = size * 16 + value
        }
        return digits > 0 ? size : nil
    }
}
