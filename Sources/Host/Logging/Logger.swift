import Glibc
import JSON
import Synchronization

/// Structured JSON-lines logging: `{"ts":…,"level":…,"msg":…, fields…}` per record.
///
/// Keys are namespaced (`plugin.name`, `oauth.client_id`). Callers must never pass a secret or a token as a
/// field; the tests grep full-run logs for them.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public var name: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warning: return "warning"
            case .error: return "error"
            }
        }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public let sink: any LogSink
    /// Shared by every copy made from this logger (`with`), so a reload (SIGHUP) changes them all.
    private let level: LevelSetting
    public var minimumLevel: Level { level.value }
    /// Fields added to every record from this logger.
    public var metadata: [String: JSONValue]

    public init(sink: any LogSink = StandardErrorLogSink(), minimumLevel: Level = .info,
                metadata: [String: JSONValue] = [:])
    {
        self.sink = sink
        self.level = LevelSetting(minimumLevel)
        self.metadata = metadata
    }

    /// A logger that adds `fields` to every record.
    public func with(_ fields: [String: JSONValue]) -> Logger {
        var copy = self
        copy.metadata.merge(fields) { _, new in new }
        return copy
    }

    // Fields are autoclosures: a record below the minimum level costs nothing to not build (the token
    // endpoint's audit record is a dictionary of seven members, on every token).
    public func debug(_ message: String, _ fields: @autoclosure () -> [String: JSONValue] = [:]) { log(.debug, message, fields()) }
    public func info(_ message: String, _ fields: @autoclosure () -> [String: JSONValue] = [:]) { log(.info, message, fields()) }
    public func warning(_ message: String, _ fields: @autoclosure () -> [String: JSONValue] = [:]) { log(.warning, message, fields()) }
    public func error(_ message: String, _ fields: @autoclosure () -> [String: JSONValue] = [:]) { log(.error, message, fields()) }

    public func log(_ level: Level, _ message: String, _ fields: @autoclosure () -> [String: JSONValue] = [:]) {
        guard level >= minimumLevel else { return }
        write(level: level.name, message: message, fields: fields())
    }

    /// Emits a record built elsewhere (a plugin's log line), adding the timestamp and this logger's metadata.
    /// Metadata wins over a field of the same name, so a plugin cannot pass itself off as another.
    public func emit(_ fields: [String: JSONValue]) {
        write(level: nil, message: nil, fields: fields)
    }

    /// Writes one record straight into its line, `ts`, `level` and `msg` first, without merging the fields
    /// into a new dictionary (two records per token made that merge a visible share of issuance). A key
    /// appears once; precedence, highest first: `ts`, metadata, `level` and `msg`, the fields.
    private func write(level: String?, message: String?, fields: [String: JSONValue]) {
        var line: [UInt8] = []
        line.reserveCapacity(512)
        line.append(contentsOf: #"{"ts":"#.utf8)
        JSONWriter.writeString(Self.timestamp(), into: &line)
        func member(_ key: String, _ value: JSONValue) {
            line.append(UInt8(ascii: ","))
            JSONWriter.writeString(key, into: &line)
            line.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &line)
        }
        if let level, metadata["level"] == nil { member("level", .string(level)) }
        if let message, metadata["msg"] == nil { member("msg", .string(message)) }
        for (key, value) in fields where key != "ts" && metadata[key] == nil
            && !(level != nil && key == "level") && !(message != nil && key == "msg")
        {
            member(key, value)
        }
        for (key, value) in metadata where key != "ts" { member(key, value) }
        line.append(contentsOf: "}\n".utf8)
        sink.write(line: line)
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-29T20:37:21.123Z`.
    ///
    /// Written digit by digit into one 24-byte buffer: this runs for every record on the threads that serve
    /// requests, and building it from padded `String`s cost most of a microsecond.
    public static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int32, at offset: Int, width: Int) {
            var rest = max(0, value)
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                text[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
        }
        put(parts.tm_year + 1900, at: 0, width: 4)
        put(parts.tm_mon + 1, at: 5, width: 2)
        put(parts.tm_mday, at: 8, width: 2)
        put(parts.tm_hour, at: 11, width: 2)
        put(parts.tm_min, at: 14, width: 2)
        put(parts.tm_sec, at: 17, width: 2)
        put(Int32(spec.tv_nsec / 1_000_000), at: 20, width: 3)
        for (offset, byte) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")] as [(Int, Unicode.Scalar)] {
            text[offset] = UInt8(ascii: byte)
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension Logger {
    /// Changes the minimum level of this logger and of every copy made from it.
    public func setMinimumLevel(_ newLevel: Level) { level.value = newLevel }

    /// The minimum level, one atomic load on every log call.
    final class LevelSetting: Sendable {
        private let raw: Atomic<Int>
        init(_ level: Level) { raw = Atomic(level.rawValue) }
        var value: Level {
            get { Level(rawValue: raw.load(ordering: .relaxed)) ?? .info }
            set { raw.store(newValue.rawValue, ordering: .relaxed) }
        }
    }
}
