import Testing
@testable import PluginProtocol

@Suite struct JSONWriterTests {
    @Test func writesCompactJSON() {
        #expect(JSONWriter.string([1, "a", nil, true, 2.5]) == #"[1,"a",null,true,2.5]"#)
        #expect(JSONWriter.string(["k": ["n": -42]]) == #"{"k":{"n":-42}}"#)
        #expect(JSONWriter.string(.int(Int64.min)) == "-9223372036854775808")
        #expect(JSONWriter.string(.int(0)) == "0")
    }

    @Test func escapesWhatJSONRequires() throws {
        let text = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} unicode é 😀 \u{2028}"
        let written = JSONWriter.string(.string(text))
        #expect(written == #""quote\" backslash\\ newline\n tab\t nul\u0000 bell\u0007 unicode é 😀 "# + "\u{2028}\"")
        #expect(!written.contains("\n"), "a protocol line must not contain a raw newline")
        #expect(try JSONParser.parse(written) == .string(text))
    }

    @Test func writesNonFiniteNumbersAsNull() {
        #expect(JSONWriter.string(.double(.nan)) == "null")
        #expect(JSONWriter.string(.double(.infinity)) == "null")
    }

    @Test func doublesRoundTrip() throws {
        for value in [0.1, 1e-7, 1e21, -2.5e-300, Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude] {
            #expect(try JSONParser.parse(JSONWriter.string(.double(value))) == .double(value))
        }
    }

    /// Strings are scanned eight bytes at a time: every byte JSON escapes, at every position of strings of every
    /// length around the word size, is found exactly as a byte-by-byte writer finds it.
    @Test func findsEveryEscapeWordAtATime() {
        let escaped: [UInt8] = Array(0..<0x20) + [0x22, 0x5C]
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x41, 0x5B, 0x5D, 0x7E, 0x7F]
        for length in 1...25 {
            for position in 0..<length {
                for byte in escaped + plain {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = byte
                    let text = String(decoding: bytes, as: UTF8.self)
                    #expect(JSONWriter.string(.string(text)) == Self.referenceQuoted(text), "byte \(byte) at \(position) of \(length)")
                }
            }
        }
        // Multi-byte UTF-8 (bytes 0x80 and up) is never escaped, beside or between bytes that are.
        let mixed = "é\u{1}😀\"\u{2028}abcdefgh\\\u{1F}ü"
        #expect(JSONWriter.string(.string(mixed)) == Self.referenceQuoted(mixed))
    }

    @Test func objectWriterWritesMembersInOrder() throws {
        var object = JSONObjectWriter()
        object.member("access_token", "a.b\"c")
        object.member("expires_in", 3600)
        object.member("scope", "")
        let written = String(decoding: object.finish(), as: UTF8.self)
        #expect(written == #"{"access_token":"a.b\"c","expires_in":3600,"scope":""}"#)
        #expect(try JSONParser.parse(written) == ["access_token": "a.b\"c", "expires_in": 3600, "scope": ""])
        #expect(String(decoding: JSONObjectWriter().finish(), as: UTF8.self) == "{}")
    }

    /// What a byte-by-byte writer produces: the reference for the word-at-a-time scan.
    private static func referenceQuoted(_ text: String) -> String {
        var out: [UInt8] = [0x22]
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += Array(#"\""#.utf8)
            case 0x5C: out += Array(#"\\"#.utf8)
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x0D: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            case 0..<0x20: out += Array((#"\u00"# + (byte < 16 ? "0" : "") + String(byte, radix: 16)).utf8)
            default: out.append(byte)
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}
