/// Splits a byte stream into `\n`-terminated lines, holding at most `maxLineLength` bytes of any one line.
///
/// Incremental: bytes arrive in chunks of any size (one byte, or many lines at once) and each complete line
/// is handed out exactly once. A line longer than the limit is reported once as `.oversized` and its bytes
/// are dropped up to the next newline, so a peer cannot make the reader buffer without bound.
/// A trailing `\r` is removed and empty lines are skipped.
public struct LineFramer: Sendable {
    /// The default cap on one protocol line: 1 MiB (Docs/plugin-protocol.md, "Framing").
    public static let defaultMaxLineLength = 1 << 20

    public enum Frame {
        /// A complete line without its terminator; valid only inside the `drain` callback.
        case line(UnsafeRawBufferPointer)
        /// A line longer than the limit was dropped; `byteCount` is how much of it had arrived when it was.
        case oversized(byteCount: Int)
    }

    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`.
    private var lineStart = 0
    /// How far `buffer` has been searched for a newline, so a long line is not rescanned per chunk.
    private var scanned = 0
    /// True while dropping the rest of an oversized line.
    private var discarding = false

    public init(maxLineLength: Int = LineFramer.defaultMaxLineLength) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// Bytes received but not yet part of a complete line.
    public var bufferedByteCount: Int { buffer.count - lineStart }

    /// Adds bytes and calls `body` for every frame they complete, in order.
    public mutating func append(_ bytes: UnsafeRawBufferPointer, _ body: (Frame) throws -> Void) rethrows {
        var remaining = bytes
        if discarding {
            guard let newline = remaining.firstIndex(of: UInt8(ascii: "\n")) else { return }
            discarding = false
            remaining = UnsafeRawBufferPointer(rebasing: remaining[(newline + 1)...])
        }
        buffer.append(contentsOf: remaining)
        defer { compact() }
        while true {
            guard let newline = findNewline() else {
                if buffer.count - lineStart > maxLineLength {
                    let dropped = buffer.count - lineStart
                    buffer.removeAll(keepingCapacity: true)
                    lineStart = 0
                    scanned = 0
                    discarding = true
                    try body(.oversized(byteCount: dropped))
                }
                return
            }
            var end = newline
            if end > lineStart && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let start = lineStart
            lineStart = newline + 1
            scanned = lineStart
            if end - start > maxLineLength {
                try body(.oversized(byteCount: end - start))
            } else if end > start {
                try buffer.withUnsafeBytes { all in
                    try body(.line(UnsafeRawBufferPointer(rebasing: all[start..<end])))
                }
            }
        }
    }

    /// Convenience for tests and small callers.
    public mutating func append(_ bytes: [UInt8], _ body: (Frame) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in try append(raw, body) }
    }

    private mutating func findNewline() -> Int? {
        let found = buffer.withUnsafeBytes { all -> Int? in
            guard scanned < all.count,
                let offset = UnsafeRawBufferPointer(rebasing: all[scanned...]).firstIndex(of: UInt8(ascii: "\n"))
            else { return nil }
            return scanned + offset
        }
        if found == nil { scanned = buffer.count }
        return found
    }

    private mutating func compact() {
        if lineStart == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            lineStart = 0
            scanned = 0
        } else if lineStart > 64 * 1024 {
            buffer.removeFirst(lineStart)
            scanned -= lineStart
            lineStart = 0
        }
    }
}
