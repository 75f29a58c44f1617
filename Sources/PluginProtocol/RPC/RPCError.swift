/// The `error` member of a JSON-RPC response (JSON-RPC 2.0 §5.1).
///
/// The message is for people and logs; programs branch on `code` only, never on message text.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: RPCErrorCode
    public var message: String
    public var data: JSONValue?

    public init(_ code: RPCErrorCode, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "error")
        let code = try reader.int("code")
        guard let small = Int(exactly: code) else { throw JSONShapeError("error code out of range") }
        self.code = RPCErrorCode(rawValue: small)
        self.message = try reader.string("message")
        self.data = reader.members["data"]
    }

    public var json: JSONValue {
        var members: JSONObject = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { members["data"] = data }
        return .object(members)
    }

    public var description: String { "\(message) [\(code)]" }
}
