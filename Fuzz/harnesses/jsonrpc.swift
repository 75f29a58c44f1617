// libFuzzer harness: line framing, the JSON parser and JSON-RPC message decoding (Sources/PluginProtocol).
// Properties: every parsed value survives writer → parser unchanged; framing is chunk-independent.

@testable import JSON
@testable import PluginProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRPC(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var whole = LineFramer(maxLineLength: 512)
    var lines: [[UInt8]] = []
    whole.append(bytes) { frame in
        if case .line(let raw) = frame { lines.append(Array(raw)) } else { lines.append([]) }
    }
    var split = LineFramer(maxLineLength: 512)
    var splitLines: [[UInt8]] = []
    for start in stride(from: 0, to: bytes.count, by: 7) {
        split.append(Array(bytes[start..<min(bytes.count, start + 7)])) { frame in
            if case .line(let raw) = frame { splitLines.append(Array(raw)) } else { splitLines.append([]) }
        }
    }
    precondition(lines == splitLines, "framing depends on chunking")
    for line in lines {
        guard let value = try? JSONParser.parse(line) else { continue }
        let written = JSONWriter.bytes(value)
        precondition(!written.contains(0x0A), "a written value contains a newline")
        precondition((try? JSONParser.parse(written)) == value, "round trip changed the value")
        _ = try? RPCMessage(json: value)
    }
    return 0
}
