import PluginProtocol

/// A path pattern: segments separated by `/`, where `*` matches one segment and a final `**` matches any
/// number of further segments (including none). Everything else matches literally, case-sensitively.
struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case any
        case rest
    }

    let text: String
    let segments: [Segment]

    init?(_ text: String) {
        guard text.hasPrefix("/") else { return nil }
        var segments: [Segment] = []
        let parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            switch part {
            case "**":
                guard index == parts.count - 1 else { return nil }
                segments.append(.rest)
            case "*": segments.append(.any)
            default:
                guard !part.contains("*"), part != ".", part != ".." else { return nil }
                segments.append(.literal(String(part)))
            }
        }
        self.text = text
        self.segments = segments
    }

    /// `path` must already be normalized (`RequestPath.normalize`).
    func matches(_ path: [Substring]) -> Bool {
        var index = 0
        for segment in segments {
            switch segment {
            case .rest: return true
            case .any:
                guard index < path.count, !path[index].isEmpty else { return false }
            case .literal(let literal):
                guard index < path.count, path[index] == literal else { return false }
            }
            index += 1
        }
        return index == path.count
    }

    var description: String { text }
}

/// Canonical request paths, so that no spelling of a path reaches a resource its plain spelling would not.
enum RequestPath {
    /// Splits a request path into segments after decoding percent-escapes of unreserved characters.
    /// Returns nil (deny) for anything ambiguous: dot segments, encoded `/`, `\` or NUL, bad escapes,
    /// non-UTF-8 — a policy must never be bypassed by `/api/v1/metrics/../oauth` or `%2e%2e`.
    static func normalize(_ path: String) -> [Substring]? {
        guard path.hasPrefix("/") else { return nil }
        var decoded: [UInt8] = []
        var bytes = Array(path.utf8)[...]
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let high = hex(bytes[bytes.startIndex]), let low = hex(bytes[bytes.startIndex + 1]) else {
                    return nil
                }
                let value = high << 4 | low
                bytes = bytes.dropFirst(2)
                // Encoded separators and control bytes stay refused: they mean different things to different servers.
                guard value != UInt8(ascii: "/"), value != UInt8(ascii: "\\"), value >= 0x20, value != 0x7F else { return nil }
                decoded.append(value)
            } else {
                guard byte > 0x20, byte != 0x7F, byte != UInt8(ascii: "\\") else { return nil }
                decoded.append(byte)
            }
        }
        guard let text = UTF8Text.string(decoded) else { return nil }
        let segments = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: { $0 == "." || $0 == ".." }) else { return nil }
        return segments
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
