/// A type that converts to and from a `JSONValue`: method params and results on the plugin wire.
///
/// Written by hand rather than through `Codable` because these conversions sit on the plugin hot path and
/// because each one can say exactly which field was wrong (`JSONShapeError`), which a plugin author needs.
public protocol JSONCodable: Sendable {
    init(json: JSONValue) throws(JSONShapeError)
    var json: JSONValue { get }
}

/// A JSON value of the wrong shape: a missing member, a wrong type, a value out of range.
public struct JSONShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Field access with errors that name the field, for `JSONCodable` conformances.
public struct JSONObjectReader: Sendable {
    public let members: JSONObject

    public init(_ value: JSONValue, what: String = "value") throws(JSONShapeError) {
        guard case .object(let members) = value else {
            throw JSONShapeError("\(what) must be an object, got \(value.typeName)")
        }
        self.members = members
    }

    public func string(_ key: String) throws(JSONShapeError) -> String {
        guard let value = members[key] else { throw JSONShapeError("missing field '\(key)'") }
        guard let string = value.stringValue else { throw typeError(key, "string", value) }
        return string
    }

    public func optionalString(_ key: String) throws(JSONShapeError) -> String? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw typeError(key, "string", value) }
        return string
    }

    public func int(_ key: String) throws(JSONShapeError) -> Int64 {
        guard let value = members[key] else { throw JSONShapeError("missing field '\(key)'") }
        guard let int = value.intValue else { throw typeError(key, "integer", value) }
        return int
    }

    public func optionalInt(_ key: String) throws(JSONShapeError) -> Int64? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let int = value.intValue else { throw typeError(key, "integer", value) }
        return int
    }

    public func bool(_ key: String) throws(JSONShapeError) -> Bool {
        guard let value = members[key] else { throw JSONShapeError("missing field '\(key)'") }
        guard let bool = value.boolValue else { throw typeError(key, "boolean", value) }
        return bool
    }

    public func optionalBool(_ key: String) throws(JSONShapeError) -> Bool? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let bool = value.boolValue else { throw typeError(key, "boolean", value) }
        return bool
    }

    public func strings(_ key: String) throws(JSONShapeError) -> [String] {
        guard let value = members[key] else { throw JSONShapeError("missing field '\(key)'") }
        return try Self.strings(value, key: key)
    }

    public func optionalStrings(_ key: String) throws(JSONShapeError) -> [String]? {
        guard let value = members[key], !value.isNull else { return nil }
        return try Self.strings(value, key: key)
    }

    public func value(_ key: String) throws(JSONShapeError) -> JSONValue {
        guard let value = members[key] else { throw JSONShapeError("missing field '\(key)'") }
        return value
    }

    public func decode<T: JSONCodable>(_ key: String, as type: T.Type = T.self) throws(JSONShapeError) -> T {
        do {
            return try T(json: try value(key))
        } catch {
            throw JSONShapeError("in '\(key)': \(error.message)")
        }
    }

    private static func strings(_ value: JSONValue, key: String) throws(JSONShapeError) -> [String] {
        guard let array = value.arrayValue else { throw typeError(key, "array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for element in array {
            guard let string = element.stringValue else { throw typeError(key, "array of strings", value) }
            strings.append(string)
        }
        return strings
    }

    private static func typeError(_ key: String, _ expected: String, _ value: JSONValue) -> JSONShapeError {
        JSONShapeError("field '\(key)' must be \(expected), got \(value.typeName)")
    }

    private func typeError(_ key: String, _ expected: String, _ value: JSONValue) -> JSONShapeError {
        Self.typeError(key, expected, value)
    }
}

extension JSONValue: JSONCodable {
    public init(json: JSONValue) { self = json }
    public var json: JSONValue { self }
}

/// The params or result of a method that carries nothing (`null` on the wire; an empty object is accepted).
public struct Empty: JSONCodable, Equatable {
    public init() {}
    public init(json: JSONValue) throws(JSONShapeError) {
        switch json {
        case .null: return
        case .object(let members) where members.isEmpty: return
        default: throw JSONShapeError("expected null, got \(json.typeName)")
        }
    }
    public var json: JSONValue { .null }
}
