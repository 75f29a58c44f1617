import Glibc
import Testing
@testable import PluginProtocol

/// `PluginServer.registerBatch`: consecutive requests for a batch method in one read reach the handler together,
/// each is answered, and the serve thread's order is kept. The server runs over real pipes; all input is written
/// (and stdin closed) before `run()`, so it reads what the host would have queued while it was busy, and nothing
/// here waits on a pipe.
@Suite struct PluginServerBatchTests {
    struct Number: JSONCodable, Equatable {
        var value: Int64
        init(_ value: Int64) { self.value = value }
        init(json: JSONValue) throws(JSONShapeError) { value = try JSONObjectReader(json).int("n") }
        var json: JSONValue { ["n": .int(value)] }
    }

    static let double = Method<Number, Number>("test.double")
    static let echo = Method<JSONValue, JSONValue>("test.echo")

    /// Serves `lines` (after `initialize`) and returns the answers by id, in the order they were written, and the
    /// batch sizes the handler saw.
    private func serve(_ lines: [String], maxBatchSize: Int = 64, failWhen: @escaping ([Number]) -> Bool = { _ in false })
        throws -> (answers: [(id: Int64, outcome: Result<JSONValue, RPCError>)], batches: [[Int64]])
    {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        try #require(pipe(&input) == 0 && pipe(&output) == 0)
        defer { close(input[0]); close(output[0]) }
        let server = PluginServer(name: "batch-test", version: "0", role: PluginRole(rawValue: "test"), input: input[0],
                                  output: output[1], maxBatchSize: maxBatchSize)
        var batches: [[Int64]] = []
        server.registerBatch(Self.double) { numbers in
            batches.append(numbers.map(\.value))
            if failWhen(numbers) { throw RPCError(.unavailable, "the database is down") }
            return numbers.map { $0.value < 0 ? .failure(RPCError(.invalidParams, "negative")) : .success(Number($0.value * 2)) }
        }
        server.register(Self.echo) { $0 }
        let opening = #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersions":[1],"config":{}}}"#
        let text = ([opening] + lines).map { $0 + "\n" }.joined()
        #expect(text.utf8.count < 60_000, "one read takes it all")
        #expect(Array(text.utf8).withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) } == text.utf8.count)
        close(input[1])
        #expect(server.run() == 0)
        close(output[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(output[0], $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        var answers: [(id: Int64, outcome: Result<JSONValue, RPCError>)] = []
        var framer = LineFramer()
        try bytes.withUnsafeBytes { raw in
            try framer.append(raw) { frame in
                guard case .line(let line) = frame, case .response(.int(let id)?, let outcome) = try RPCMessage(line: line) else {
                    Issue.record("not a response with an id")
                    return
                }
                if id != 0 { answers.append((id, outcome)) }
            }
        }
        return (answers, batches)
    }

    private func request(_ id: Int64, _ method: String, _ params: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#
    }

    private func doubled(_ id: Int64, _ n: Int64) -> String { request(id, Self.double.name, #"{"n":\#(n)}"#) }

    @Test func requestsFromOneReadReachTheHandlerTogether() throws {
        let (answers, batches) = try serve((1...10).map { doubled($0, $0) })
        #expect(batches == [Array(1...10)])
        #expect(answers.map(\.id) == Array(1...10))
        for answer in answers { #expect(answer.outcome == .success(["n": .int(answer.id * 2)])) }
    }

    @Test func aBatchIsBoundedByMaxBatchSize() throws {
        let (answers, batches) = try serve((1...10).map { doubled($0, $0) }, maxBatchSize: 4)
        #expect(batches == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]])
        #expect(answers.map(\.id) == Array(1...10))
    }

    /// A request for another method runs the batch that waits first, so nothing overtakes anything.
    @Test func anotherMethodKeepsItsPlace() throws {
        let lines = [doubled(1, 1), doubled(2, 2), request(3, Self.echo.name, #"{"x":3}"#), doubled(4, 4)]
        let (answers, batches) = try serve(lines)
        #expect(batches == [[1, 2], [4]])
        #expect(answers.map(\.id) == [1, 2, 3, 4])
        #expect(answers[2].outcome == .success(["x": .int(3)]))
    }

    /// Params that do not decode, and a failure the handler reports for one request, fail that request only.
    @Test func oneBadRequestLeavesItsNeighboursAlone() throws {
        let lines = [doubled(1, 1), request(2, Self.double.name, #"{"n":"two"}"#), doubled(3, -3), doubled(4, 4)]
        let (answers, batches) = try serve(lines)
        #expect(batches == [[1, -3, 4]])
        #expect(answers.map(\.id) == [1, 2, 3, 4])
        #expect(answers[0].outcome == .success(["n": .int(2)]))
        #expect(answers[1].outcome.errorCode == .invalidParams)
        #expect(answers[2].outcome.errorCode == .invalidParams)
        #expect(answers[3].outcome == .success(["n": .int(8)]))
    }

    /// A throw is the answer to its whole batch (one lookup failed for all of them), and to no other batch.
    @Test func aThrownErrorFailsItsBatchOnly() throws {
        let lines = [doubled(1, 1), doubled(2, 2), request(3, Self.echo.name, "{}"), doubled(4, 4)]
        let (answers, batches) = try serve(lines, failWhen: { $0.count == 2 })
        #expect(batches == [[1, 2], [4]])
        #expect(answers.map(\.id) == [1, 2, 3, 4])
        #expect(answers[0].outcome.errorCode == .unavailable)
        #expect(answers[1].outcome.errorCode == .unavailable)
        #expect(answers[3].outcome == .success(["n": .int(8)]))
    }

    @Test func beforeInitializeABatchMethodIsRefusedLikeAnyOther() throws {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        try #require(pipe(&input) == 0 && pipe(&output) == 0)
        defer { close(input[0]); close(output[0]) }
        let server = PluginServer(name: "batch-test", version: "0", role: PluginRole(rawValue: "test"), input: input[0], output: output[1])
        var called = false
        server.registerBatch(Self.double) { numbers in
            called = true
            return numbers.map { .success($0) }
        }
        let text = doubled(1, 1) + "\n"
        #expect(Array(text.utf8).withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) } == text.utf8.count)
        close(input[1])
        #expect(server.run() == 0)
        close(output[1])
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { read(output[0], $0.baseAddress, $0.count) }
        #expect(!called)
        #expect(String(decoding: chunk[0..<max(0, count)], as: UTF8.self).contains("\(RPCErrorCode.notInitialized.rawValue)"))
    }
}

extension Result<JSONValue, RPCError> {
    fileprivate var errorCode: RPCErrorCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
