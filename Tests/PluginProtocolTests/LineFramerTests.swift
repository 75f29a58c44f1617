import Testing
@testable import PluginProtocol

@Suite struct LineFramerTests {
    enum Event: Equatable {
        case line(String)
        case oversized(Int)
    }

    private func feed(_ framer: inout LineFramer, _ bytes: [UInt8]) -> [Event] {
        var events: [Event] = []
        framer.append(bytes) { frame in
            switch frame {
            case .line(let raw): events.append(.line(String(decoding: raw, as: UTF8.self)))
            case .oversized(let count): events.append(.oversized(count))
            }
        }
        return events
    }

    @Test func oneByteAtATime() {
        var framer = LineFramer(maxLineLength: 100)
        var events: [Event] = []
        for byte in Array("first\nsecond\r\n\nthird\n".utf8) { events += feed(&framer, [byte]) }
        #expect(events == [.line("first"), .line("second"), .line("third")])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func manyLinesInOneChunk() {
        var framer = LineFramer(maxLineLength: 100)
        let text = (0..<1000).map { "message \($0)\n" }.joined()
        let events = feed(&framer, Array(text.utf8))
        #expect(events.count == 1000)
        #expect(events.last == .line("message 999"))
    }

    @Test func keepsAPartialLineUntilItsNewline() {
        var framer = LineFramer(maxLineLength: 100)
        #expect(feed(&framer, Array("abc".utf8)) == [])
        #expect(framer.bufferedByteCount == 3)
        #expect(feed(&framer, Array("def\ng".utf8)) == [.line("abcdef")])
        #expect(feed(&framer, Array("\n".utf8)) == [.line("g")])
    }

    @Test func dropsAnOversizedLineAndRecovers() {
        var framer = LineFramer(maxLineLength: 10)
        var events = feed(&framer, Array("ok\n0123456789AB".utf8))
        #expect(events == [.line("ok"), .oversized(12)])
        // The rest of the long line is dropped, arriving in pieces, without buffering it.
        events = feed(&framer, Array("CDEF".utf8)) + feed(&framer, Array("GH\nnext\n".utf8))
        #expect(events == [.line("next")])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func exactlyTheLimitIsAccepted() {
        var framer = LineFramer(maxLineLength: 10)
        #expect(feed(&framer, Array("0123456789\n01234567890\n".utf8)) == [.line("0123456789"), .oversized(11)])
    }

    @Test func oversizedLineCompleteInOneChunk() {
        var framer = LineFramer(maxLineLength: 4)
        #expect(feed(&framer, Array("toolong\nfine\n".utf8)) == [.oversized(7), .line("fine")])
    }

    @Test func longLineInSmallChunksIsNotRescanned() {
        // 1 MiB in 1-byte chunks finishes quickly only if each chunk is scanned once.
        var framer = LineFramer(maxLineLength: 2 << 20)
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        var count = 0
        for start in stride(from: 0, to: line.count, by: 512) {
            count += feed(&framer, Array(line[start..<min(start + 512, line.count)])).count
        }
        #expect(count == 0)
        #expect(feed(&framer, [UInt8(ascii: "\n")]) == [.line(String(repeating: "a", count: 1 << 20))])
    }
}
