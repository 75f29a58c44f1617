/// Writes one JSON object member by member, straight into bytes, in the order given: for the fixed-shape
/// objects written on every request (token claims, token responses), where building `JSONValue`s and a list
/// of members cost more than writing them.
///
/// ```swift
/// var object = JSONObjectWriter()
/// object.member("token_type", "Bearer")
/// object.member("expires_in", 3600)
/// let body = object.finish()   // {"token_type":"Bearer","expires_in":3600}
/// ```
public struct JSONObjectWriter {
    private var bytes: [UInt8]

    /// `capacity`: the bytes to reserve, so that a typical object is written without growing the buffer.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    public mutating func member(_ key: StaticString, _ value: String) {
        writeKey(key)
        JSONWriter.writeString(value, into: &bytes)
    }

    public mutating func member(_ key: StaticString, _ value: Int64) {
        writeKey(key)
        JSONWriter.writeInteger(value, into: &bytes)
    }

    /// The object's bytes, closed.
    public consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Keys are literals written here: they need no escapes (checked in debug builds), so they are copied as
    /// they are.
    private mutating func writeKey(_ key: StaticString) {
        let utf8 = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        assert(!utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }, "a key that needs escapes")
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }
}
