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
}
