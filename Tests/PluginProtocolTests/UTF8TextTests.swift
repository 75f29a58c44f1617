import Testing
@testable import PluginProtocol

@Suite struct UTF8TextTests {
    /// The fast path must accept and refuse exactly what the standard library's strict validation does.
    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [Array("plain ascii".utf8), Array("é".utf8), Array("€".utf8), Array("😀".utf8),
                                 [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0x00]]
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                if Bool.random(using: &rng) {
                    bytes += pieces.randomElement(using: &rng)!
                } else {
                    bytes += (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
            }
            #expect(UTF8Text.string(bytes) == String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test func asciiIsSeenAtEveryLengthAndPosition() {
        for length in 0...40 {
            let ascii = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            #expect(ascii.withUnsafeBytes(UTF8Text.isASCII))
            for position in 0..<length {
                var high = ascii
                high[position] = 0xC3
                #expect(!high.withUnsafeBytes(UTF8Text.isASCII), "length \(length), high byte at \(position)")
            }
        }
    }
}
