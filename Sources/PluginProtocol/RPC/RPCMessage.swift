/// One JSON-RPC 2.0 message: a request (with id), a notification (without), or a response.
public enum RPCMessage: Sendable, Equatable {
    case request(id: RPCID, method: String, params: JSONValue)
    case notification(method: String, params: JSONValue)
    case response(id: RPCID?, outcome: Result<JSONValue, RPCError>)

    /// Why a protocol line is not a message: not JSON at all, or JSON of the wrong shape.
    public enum LineError: Error, CustomStringConvertible {
        case json(JSONParseError)
        case shape(JSONShapeError)

        public var description: String {
            switch self {
            case .json(let error): return "\(error)"
            case .shape(let error): return error.message
            }
        }
    }

    /// Reads a message straight from a protocol line (the hot path: no dictionary for the envelope).
    public init(line: UnsafeRawBufferPointer) throws(LineError) {
        var envelope = Envelope()
        do {
            try JSONParser.forEachMember(of: line) { key, value in
                switch key {
                case "jsonrpc": envelope.jsonrpc = value
                case "id": envelope.id = value
                case "method": envelope.method = value
                case "params": envelope.params = value
                case "result": envelope.result = value
                case "error": envelope.error = value
                default: break  // Unknown members are ignored (forward compatibility).
                }
            }
        } catch {
            throw .json(error)
        }
        do {
            try self.init(envelope)
        } catch {
            throw .shape(error)
        }
    }

    /// The members a message is made of; anything else in the object is ignored.
    private struct Envelope {
        var jsonrpc: JSONValue?
        var id: JSONValue?
        var method: JSONValue?
        var params: JSONValue?
        var result: JSONValue?
        var error: JSONValue?
    }

    /// Reads a message from a parsed line, or says why the line is not one.
    public init(json: JSONValue) throws(JSONShapeError) {
        guard case .object(let members) = json else { throw JSONShapeError("message must be an object") }
        try self.init(Envelope(jsonrpc: members["jsonrpc"], id: members["id"], method: members["method"], params: members["params"],
                               result: members["result"], error: members["error"]))
    }

    private init(_ members: Envelope) throws(JSONShapeError) {
        guard members.jsonrpc == .string("2.0") else { throw JSONShapeError("missing \"jsonrpc\": \"2.0\"") }
        let id: RPCID?
        if let rawID = members.id, !rawID.isNull {
            guard let parsed = RPCID(json: rawID) else { throw JSONShapeError("id must be a string or an integer") }
            id = parsed
        } else {
            id = nil
        }
        if let method = members.method {
            guard let name = method.stringValue else { throw JSONShapeError("method must be a string") }
            let params = members.params ?? .null
            switch params {
            case .object, .array, .null: break
            default: throw JSONShapeError("params must be an object or an array")
            }
            if let id {
                self = .request(id: id, method: name, params: params)
            } else if members.id != nil {
                throw JSONShapeError("a request id must not be null")
            } else {
                self = .notification(method: name, params: params)
            }
            return
        }
        switch (members.result, members.error) {
        case (let result?, nil):
            self = .response(id: id, outcome: .success(result))
        case (nil, let error?):
            self = .response(id: id, outcome: .failure(try RPCError(json: error)))
        default:
            throw JSONShapeError("a response has exactly one of \"result\" and \"error\"")
        }
    }

    public var json: JSONValue {
        switch self {
        case .request(let id, let method, let params):
            var members: JSONObject = ["jsonrpc": "2.0", "id": id.json, "method": .string(method)]
            if !params.isNull { members["params"] = params }
            return .object(members)
        case .notification(let method, let params):
            var members: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
            if !params.isNull { members["params"] = params }
            return .object(members)
        case .response(let id, let outcome):
            var members: JSONObject = ["jsonrpc": "2.0", "id": id?.json ?? .null]
            switch outcome {
            case .success(let result): members["result"] = result
            case .failure(let error): members["error"] = error.json
            }
            return .object(members)
        }
    }

    /// The message as one protocol line: compact JSON followed by `\n`.
    public func line() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        appendLine(to: &out)
        return out
    }

    /// Writes the envelope directly rather than through `json`: every plugin call crosses here twice, and a
    /// dictionary per message (allocation plus key hashing) was a measurable share of a round trip.
    public func appendLine(to out: inout [UInt8]) {
        func literal(_ text: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func id(_ id: RPCID?) {
            switch id {
            case .int(let number)?: JSONWriter.writeInteger(number, into: &out)
            case .string(let text)?: JSONWriter.writeString(text, into: &out)
            case nil: literal("null")
            }
        }
        func call(_ method: String, _ params: JSONValue) {
            literal(#","method":"#)
            JSONWriter.writeString(method, into: &out)
            if !params.isNull {
                literal(#","params":"#)
                JSONWriter.write(params, into: &out)
            }
        }
        switch self {
        case .request(let requestID, let method, let params):
            literal(#"{"jsonrpc":"2.0","id":"#)
            id(requestID)
            call(method, params)
        case .notification(let method, let params):
            literal(#"{"jsonrpc":"2.0""#)
            call(method, params)
        case .response(let responseID, let outcome):
            literal(#"{"jsonrpc":"2.0","id":"#)
            id(responseID)
            switch outcome {
            case .success(let result):
                literal(#","result":"#)
                JSONWriter.write(result, into: &out)
            case .failure(let error):
                literal(#","error":"#)
                JSONWriter.write(error.json, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
    }
}
