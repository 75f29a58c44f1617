import Foundation
import PluginProtocol
import Testing
@testable import Host

/// The protocol works outside Swift: the Python example from the docs, run through the real supervisor.
@Suite struct ForeignPluginTests {
    typealias Support = PluginTestSupport

    private func pythonSpec() -> PluginSpec {
        var spec = PluginSpec(name: "python-echo", command: "/usr/bin/env")
        spec.arguments = ["python3", Support.packageRoot + "/Docs/examples/python-plugin/echo_plugin.py"]
        spec.config = ["greeting": "hello"]
        spec.shutdownGrace = .milliseconds(500)
        return spec
    }

    @Test func pythonPluginHandshakesAndServes() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(pythonSpec(), sink: sink)
        defer { pool.shutdown() }
        let document: JSONValue = ["text": "héllo 😀", "n": 12345678901, "list": [true, nil, 2.5]]
        #expect(pool.callSync("example.echo", document) == .success(document))
        guard case .failure(.remote(_, let error)) = pool.callSync("example.nope", [:]) else {
            Issue.record("unknown method was answered")
            return
        }
        #expect(error.code == .methodNotFound)
        // Its stderr log came through, tagged.
        #expect(Support.eventually {
            sink.objects.contains { $0["msg"] == "initialized" && $0["plugin.name"] == "python-echo" }
        })
    }

    @Test func pythonPluginShutsDownCleanly() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(pythonSpec(), sink: sink)
        pool.shutdown()
        #expect(sink.objects.contains { $0["msg"] == "plugin stopped" && $0["plugin.exit"] == "exited with status 0" })
    }

    @Test func manyConcurrentCallsToPython() throws {
        let pool = try Support.startPool(pythonSpec())
        defer { pool.shutdown() }
        let group = DispatchGroup()
        let wrong = ResultCounter()
        for index in 0..<500 {
            group.enter()
            pool.call(method: "example.echo", params: ["i": .int(Int64(index))]) { outcome in
                if outcome != .success(["i": .int(Int64(index))]) { wrong.increment() }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(wrong.value == 0)
    }
}
