/// Reads one object of an operator's configuration and refuses every key nobody asked for.
///
/// A typo in a config key (`http.thread`, a plugin's `pth`) must be an error, not a silently ignored line:
/// the key list is not written down separately, it is the set of keys the code asked this reader for, so a
/// key added where it is read is known at once. Call `finish()` after reading; it checks this object and
/// every nested object taken with `object(_:)`, and names the first unknown key by its full path, with a
/// "did you mean" when a known key is close.
///
/// Not for the plugin wire (`JSONObjectReader`): the protocol ignores unknown fields so it can grow.
public final class ConfigReader {
    /// Where this object sits, for messages: `""` at the top, `http`, `plugins.store.config`.
    public let path: String
    public let members: JSONObject
    private var asked: Set<String> = []
    private var children: [ConfigReader] = []

    public init(_ value: JSONValue, path: String = "") throws(JSONShapeError) {
        guard case .object(let members) = value else {
            throw JSONShapeError("\(path.isEmpty ? "config" : "'\(path)'") must be an object, got \(value.typeName)")
        }
        self.path = path
        self.members = members
    }

    /// The full name of `key` in messages: `http.threads`.
    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Declares keys read by other means (`members[...]`), so `finish()` accepts them.
    public func accept(_ keys: String...) { asked.formUnion(keys) }

    /// The raw value of `key`, or nil when absent; declares `key` known.
    public func value(_ key: String) -> JSONValue? {
        asked.insert(key)
        return members[key]
    }

    /// A nested object, checked by this reader's `finish()`; nil when absent or null.
    public func object(_ key: String) throws(JSONShapeError) -> ConfigReader? {
        guard let value = value(key), !value.isNull else { return nil }
        let child = try ConfigReader(value, path: name(key))
        children.append(child)
        return child
    }

    public func optionalString(_ key: String) throws(JSONShapeError) -> String? {
        guard let value = value(key), !value.isNull else { return nil }
        guard let string = value.stringValue else { throw typeError(key, "string", value) }
        return string
    }

    public func optionalInt(_ key: String) throws(JSONShapeError) -> Int64? {
        guard let value = value(key), !value.isNull else { return nil }
        guard let int = value.intValue else { throw typeError(key, "integer", value) }
        return int
    }

    /// An integer that must lie in `range`; the message names the key and the range.
    public func optionalInt(_ key: String, in range: ClosedRange<Int64>) throws(JSONShapeError) -> Int64? {
        guard let int = try optionalInt(key) else { return nil }
        guard range.contains(int) else {
            throw JSONShapeError("'\(name(key))' must be from \(range.lowerBound) to \(range.upperBound), got \(int)")
        }
        return int
    }

    public func optionalBool(_ key: String) throws(JSONShapeError) -> Bool? {
        guard let value = value(key), !value.isNull else { return nil }
        guard let bool = value.boolValue else { throw typeError(key, "boolean", value) }
        return bool
    }

    public func optionalStrings(_ key: String) throws(JSONShapeError) -> [String]? {
        guard let value = value(key), !value.isNull else { return nil }
        guard let array = value.arrayValue else { throw typeError(key, "array of strings", value) }
        var strings: [String] = []
        for element in array {
            guard let string = element.stringValue else { throw typeError(key, "array of strings", value) }
            strings.append(string)
        }
        return strings
    }

    /// Refuses the first key (here or in a nested object) that was never asked for.
    public func finish() throws(JSONShapeError) {
        for key in members.keys.sorted() where !asked.contains(key) {
            var message = "unknown key '\(name(key))'"
            if let near = Self.nearest(key, in: asked) { message += " (did you mean '\(name(near))'?)" }
            throw JSONShapeError(message)
        }
        for child in children { try child.finish() }
    }

    private func typeError(_ key: String, _ expected: String, _ value: JSONValue) -> JSONShapeError {
        JSONShapeError("field '\(name(key))' must be \(expected), got \(value.typeName)")
    }

    /// The known key closest to `key` by edit distance, if it is close enough to be a typo.
    static func nearest(_ key: String, in known: Set<String>) -> String? {
        let limit = max(1, key.count / 3)
        var best: (key: String, distance: Int)?
        for candidate in known.sorted() {
            let (a, b) = (key.lowercased(), candidate.lowercased())
            let distance = editDistance(Array(a.utf8), Array(b.utf8))
            // A key cut short (`default_lifetime` for `default_lifetime_seconds`) is a typo too.
            let truncated = a.count >= 4 && (b.hasPrefix(a) || a.hasPrefix(b))
            if distance <= limit || truncated, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.key
    }

    /// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: `brust` is one from `burst`.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var beforePrevious = [Int]()
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], beforePrevious[j - 2] + 1) }
            }
            (beforePrevious, previous) = (previous, current)
        }
        return previous[b.count]
    }
}
