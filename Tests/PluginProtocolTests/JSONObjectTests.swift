import Testing
@testable import PluginProtocol

/// `JSONObject` is a list while small and indexed past `indexedCount` members: both must behave as a dictionary.
@Suite struct JSONObjectTests {
    @Test(arguments: [3, JSONObject.indexedCount - 1, JSONObject.indexedCount, 40])
    func behavesAsADictionaryAtEverySize(count: Int) throws {
        var object = JSONObject()
        var reference: [String: JSONValue] = [:]
        for index in 0..<count {
            object["k\(index)"] = .int(Int64(index))
            reference["k\(index)"] = .int(Int64(index))
        }
        #expect(object.keys == (0..<count).map { "k\($0)" }, "members stay in the order they were added")
        for index in stride(from: 0, to: count, by: 2) {
            object["k\(index)"] = .string("changed")
            reference["k\(index)"] = .string("changed")
        }
        #expect(object.removeValue(forKey: "k1") == .int(1))
        reference["k1"] = nil
        object["missing"] = nil
        let insertedAgain = object.insertNew("k2", .null)
        #expect(!insertedAgain, "an existing key is not inserted again")
        let inserted = object.insertNew("new", .null)
        #expect(inserted)
        reference["new"] = .null
        #expect(object.count == reference.count)
        for (key, value) in reference { #expect(object[key] == value, "\(key)") }
        #expect(object.dictionary == reference)
        #expect(object["k1"] == nil)
        // The text round trip keeps every member, and a parsed object of this size refuses a repeated key.
        let text = JSONWriter.string(.object(object))
        #expect(try JSONParser.parse(text) == .object(object))
        let repeated = "{" + (0..<count).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k0\":1}"
        #expect(throws: JSONParseError.self) { try JSONParser.parse(repeated) }
    }

    @Test func equalityAndHashIgnoreOrder() {
        let forward: JSONObject = ["a": 1, "b": [1, 2], "c": ["d": nil]]
        var backward = JSONObject()
        backward["c"] = ["d": nil]
        backward["b"] = [1, 2]
        backward["a"] = 1
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(Set([JSONValue.object(forward), .object(backward)]).count == 1)
        backward["a"] = 2
        #expect(forward != backward)
        var fewer = forward
        fewer["c"] = nil
        #expect(fewer != forward && forward != fewer)
    }
}
