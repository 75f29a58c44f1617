import Testing
@testable import PluginProtocol

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null], "b": {"c": "d"}, "e": ""} "#)
        #expect(value == [
            "a": [1, -2, 3.5, 1000.0, true, false, nil],
            "b": ["c": "d"],
            "e": "",
        ])
    }

    @Test func integersStayExactAtTheInt64Edges() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9223372036854775808.0))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("3.0").intValue == 3)
        #expect(try JSONParser.parse("3.5").intValue == nil)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#)
        #expect(value == .string("\"\\/\u{8}\u{c}\n\r\tAé😀"))
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a string key"),
        ("[1,]", "unexpected character"),
        ("{\"a\":1,}", "expected a string key"),
        ("01", "leading zero in number"),
        ("-", "expected a digit"),
        ("1.", "expected a digit after '.'"),
        ("1e", "expected a digit in exponent"),
        ("1e999", "number out of range"),
        ("tru", "unexpected end of input"),
        ("nul1", "invalid literal"),
        ("\"abc", "unterminated string"),
        ("\"a\u{01}b\"", "control character in string"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\u12\"", "truncated \\u escape"),
        ("\"\\u12G4\"", "invalid hex digit in \\u escape"),
        ("\"\\ud800\"", "unpaired surrogate in \\u escape"),
        ("\"\\udc00\"", "unpaired surrogate in \\u escape"),
        ("\"\\ud800\\u0041\"", "unpaired surrogate in \\u escape"),
        ("{\"a\":1,\"a\":2}", "duplicate key"),
        ("[1] [2]", "unexpected data after the JSON value"),
        ("'a'", "unexpected character"),
        ("NaN", "unexpected character"),
    ])
    func refusesInvalidText(text: String, reason: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.message == reason, "for \(text.debugDescription)")
        }
    }

    @Test func refusesInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                               [0x22, 0x5C, 0x6E, 0xFE, 0x22]]
        {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        }
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser.parse(fine)
        // Far past the limit must fail cleanly, not overflow the stack.
        let hostile = String(repeating: "[", count: 1_000_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(hostile) }
    }

    @Test func reportsTheOffsetOfTheFault() {
        do {
            _ = try JSONParser.parse(#"{"a": tru}"#)
            Issue.record("parsed invalid JSON")
        } catch {
            #expect(error.offset == 6)
        }
    }

    @Test func survivesRandomBytes() throws {
        var generator = SplitMix64(seed: 42)
        let alphabet = Array(#"{}[]",:0123456789-+.eE\u"truefalsnl "#.utf8) + [0x00, 0xFF, 0xC3, 0xA9, 0x0A]
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            if let value = try? JSONParser.parse(bytes) {
                // Whatever parses must survive a round trip through the writer.
                #expect(try JSONParser.parse(JSONWriter.bytes(value)) == value)
            }
        }
    }
}

/// A tiny deterministic generator so randomized tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
