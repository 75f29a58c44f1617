import Testing
@testable import PluginProtocol

@Suite struct RPCMessageTests {
    private func message(_ text: String) throws -> RPCMessage {
        try RPCMessage(json: try JSONParser.parse(text))
    }

    @Test func readsEachKindOfMessage() throws {
        #expect(try message(#"{"jsonrpc":"2.0","id":7,"method":"m","params":{"a":1}}"#)
            == .request(id: .int(7), method: "m", params: ["a": 1]))
        #expect(try message(#"{"jsonrpc":"2.0","id":"x","method":"m"}"#)
            == .request(id: .string("x"), method: "m", params: nil))
        #expect(try message(#"{"jsonrpc":"2.0","method":"exit"}"#) == .notification(method: "exit", params: nil))
        #expect(try message(#"{"jsonrpc":"2.0","id":1,"result":null}"#)
            == .response(id: .int(1), outcome: .success(nil)))
        #expect(try message(#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no","data":[1]}}"#)
            == .response(id: .int(1), outcome: .failure(RPCError(.methodNotFound, "no", data: [1]))))
    }

    @Test(arguments: [
        #"[]"#,
        #"{"id":1,"method":"m"}"#,
        #"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
        #"{"jsonrpc":"2.0","id":1,"method":5}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"m","params":3}"#,
        #"{"jsonrpc":"2.0","id":1}"#,
        #"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":""}}"#,
    ])
    func refusesMalformedMessages(text: String) {
        #expect(throws: JSONShapeError.self) { try message(text) }
    }

    @Test func unknownFieldsAreIgnored() throws {
        #expect(try message(#"{"jsonrpc":"2.0","id":1,"result":2,"extra":{"x":1}}"#)
            == .response(id: .int(1), outcome: .success(2)))
    }

    @Test func errorCodesFromOtherPluginsStillDecode() throws {
        let decoded = try message(#"{"jsonrpc":"2.0","id":1,"error":{"code":12345,"message":"custom"}}"#)
        guard case .response(_, .failure(let error)) = decoded else {
            Issue.record("not an error response")
            return
        }
        #expect(error.code.rawValue == 12345)
        #expect(error.code != .internalError)
    }

    @Test func linesAreCompactAndRoundTrip() throws {
        let original = RPCMessage.request(id: .int(3), method: "store.get", params: ["clientId": "a\nb"])
        let line = original.line()
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false)
        #expect(try RPCMessage(json: JSONParser.parse(Array(line.dropLast()))) == original)
    }

    @Test func initializeParamsRoundTrip() throws {
        let params = InitializeParams(protocolVersions: [1, 2], config: ["path": "x"], hostName: "gatehouse",
                                      hostVersion: "1", pluginName: "store")
        #expect(try InitializeParams(json: params.json) == params)
        let result = InitializeResult(name: "n", version: "v", protocolVersion: 1, role: .store, methods: ["a"])
        #expect(try InitializeResult(json: result.json) == result)
    }
}

/// `RPCMessage(line:)`, the decoder every protocol line goes through, must agree with the general path.
@Suite struct RPCMessageLineTests {
    private func decode(_ text: String) throws(RPCMessage.LineError) -> RPCMessage {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(RPCMessage.LineError) -> RPCMessage in try RPCMessage(line: raw) }
        }
        return try result.get()
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":7,"method":"m","params":{"a":[1,2]}}"#,
        #"{"method":"exit","jsonrpc":"2.0"}"#,
        #"{"jsonrpc":"2.0","id":"x","result":null,"extra":{"ignored":true}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":1002,"message":"no"}}"#,
    ])
    func agreesWithTheGeneralDecoder(text: String) throws {
        #expect(try decode(text) == RPCMessage(json: JSONParser.parse(text)))
    }

    @Test func reportsJSONAndShapeErrorsApart() {
        for (text, isJSONError) in [("{nope", true), ("[1]", true), (#"{"a":1,"a":2}"#, true), (#"{"jsonrpc":"2.0"} x"#, true),
                                    (#"{"jsonrpc":"1.0","id":1,"method":"m"}"#, false), (#"{"jsonrpc":"2.0","id":1}"#, false)]
        {
            do {
                _ = try decode(text)
                Issue.record("accepted \(text)")
            } catch {
                switch error {
                case .json: #expect(isJSONError, "\(text)")
                case .shape: #expect(!isJSONError, "\(text)")
                }
            }
        }
    }
}
