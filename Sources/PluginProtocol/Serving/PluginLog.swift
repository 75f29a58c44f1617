import Glibc

/// Structured logs for a plugin: one JSON object per line on stderr, which the host re-emits tagged with the
/// plugin's name. Never pass a secret or a token as a field.
public enum PluginLog {
    private static let stderrWriter = FileDescriptorWriter(fd: STDERR_FILENO)

    public static func debug(_ message: String, _ fields: [String: JSONValue] = [:]) { emit("debug", message, fields) }
    public static func info(_ message: String, _ fields: [String: JSONValue] = [:]) { emit("info", message, fields) }
    public static func warning(_ message: String, _ fields: [String: JSONValue] = [:]) { emit("warning", message, fields) }
    public static func error(_ message: String, _ fields: [String: JSONValue] = [:]) { emit("error", message, fields) }

    private static func emit(_ level: String, _ message: String, _ fields: [String: JSONValue]) {
        var record = JSONObject(fields)
        record["level"] = .string(level)
        record["msg"] = .string(message)
        var line = JSONWriter.bytes(.object(record))
        line.append(UInt8(ascii: "\n"))
        stderrWriter.writeAll(line)
    }
}
