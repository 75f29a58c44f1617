import Glibc
import PluginProtocol

/// Re-emits a plugin's stderr through the host logger, one record per line, tagged with the plugin's name.
///
/// A line that is a JSON object keeps its fields (`level`, `msg`, anything else); any other line becomes
/// the `msg` of an `info` record. Lines are capped so a plugin cannot flood the host's memory.
///
/// Audit events (records with an `audit` field) are the host's alone: a plugin's line that claims to be one
/// keeps what it claimed only as `plugin.claimed_audit`, so whoever reads the audit trail (`audit` present)
/// never sees an event a plugin forged, such as a `token.issued` for a client that got no token.
struct StderrForwarder: Sendable {
    static let maxLineLength = 16 * 1024

    let fd: Int32
    let logger: Logger

    func run() {
        var framer = LineFramer(maxLineLength: Self.maxLineLength)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            chunk.withUnsafeBytes { raw in
                framer.append(UnsafeRawBufferPointer(rebasing: raw[0..<count])) { frame in forward(frame) }
            }
        }
        close(fd)
    }

    private func forward(_ frame: LineFramer.Frame) {
        switch frame {
        case .oversized(let byteCount):
            logger.warning("plugin log line dropped: over \(Self.maxLineLength) bytes", ["log.bytes": .int(Int64(byteCount))])
        case .line(let bytes):
            if bytes.first == UInt8(ascii: "{"), case .object(var fields)? = try? JSONParser.parse(bytes) {
                let level = fields["level"]?.stringValue.flatMap(Logger.Level.init(name:)) ?? .info
                guard level >= logger.minimumLevel else { return }
                fields["level"] = .string(level.name)
                if fields["msg"] == nil { fields["msg"] = fields["message"] ?? "" }
                fields["ts"] = nil
                if let claimed = fields.removeValue(forKey: "audit") { fields["plugin.claimed_audit"] = claimed }
                logger.emit(fields.dictionary)
            } else {
                logger.info(String(decoding: bytes, as: UTF8.self))
            }
        }
    }
}
