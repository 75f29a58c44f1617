import Foundation
import Glibc
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// The supervisor against real plugin processes (Tests/Fixtures/test-plugin).
@Suite struct PluginSupervisorTests {
    typealias Support = PluginTestSupport

    @Test func handshakeThenCalls() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        #expect(pool.callSync("test.echo", ["hello": "world"]) == .success(["hello": "world"]))
        #expect(pool.health.isReady)
    }

    @Test func typedCallsDecodeResults() async throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let echoed = try await pool.call(Method<JSONValue, JSONValue>("test.echo"), ["n": 1])
        #expect(echoed == ["n": 1])
        await #expect(throws: PluginCallError.self) {
            // The plugin answers with an object; asking for `Empty` must fail as an invalid result.
            _ = try await pool.call(Method<JSONValue, Empty>("test.echo"), ["n": 1])
        }
    }

    @Test func versionMismatchIsRefusedWithAClearMessage() {
        let pool = PluginPool(spec: Support.testPluginSpec(["--versions", "7,9"]), logger: Logger(sink: MemoryLogSink()),
                              hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        let outcome = pool.waitUntilReady(timeout: .seconds(10))
        guard case .failure(let error) = outcome else {
            Issue.record("a plugin speaking only versions 7 and 9 was accepted")
            return
        }
        #expect(error.description.contains("speaks protocol version 7, 9; the host offered 1"))
        #expect(pool.health.processes[0].state == "failed")
    }

    @Test func wrongRoleIsRefused() {
        var spec = Support.testPluginSpec()
        spec.role = .store
        let pool = PluginPool(spec: spec, logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a test-role plugin was accepted as a store")
            return
        }
        #expect(error.description.contains("needs a store plugin"))
    }

    @Test func missingCommandIsReported() {
        let spec = PluginSpec(name: "ghost", command: "gatehouse-no-such-plugin")
        let pool = PluginPool(spec: spec, logger: Logger(sink: MemoryLogSink()), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a missing command started")
            return
        }
        #expect(error.description.contains("'gatehouse-no-such-plugin' not found"))
    }

    @Test func thousandConcurrentCallsAllAnsweredCorrectly() throws {
        var spec = Support.testPluginSpec()
        spec.poolSize = 2
        let pool = try Support.startPool(spec)
        defer { pool.shutdown() }
        let results = Mutex<[Int64: JSONValue]>([:])
        let done = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: 1000) { index in
            done.enter()
            pool.call(method: "test.echo", params: ["n": .int(Int64(index)), "pad": .string(String(repeating: "x", count: index))]) {
                outcome in
                if case .success(let value) = outcome { results.withLock { $0[Int64(index)] = value } }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        let answered = results.withLock { $0 }
        #expect(answered.count == 1000)
        for (index, value) in answered {
            #expect(value["n"] == .int(index))
            #expect(value["pad"]?.stringValue?.count == Int(index))
        }
        // Both processes of the pool took part.
        #expect(pool.health.processes.allSatisfy { $0.state == "ready" })
    }

    @Test func answersMayArriveOutOfOrder() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let order = Mutex<[Int64]>([])
        let done = DispatchGroup()
        for ms: Int64 in [400, 10] {
            done.enter()
            pool.call(method: "test.sleep", params: ["ms": .int(ms)]) { outcome in
                if case .success(let value) = outcome, let ms = value["ms"]?.intValue { order.withLock { $0.append(ms) } }
                done.leave()
            }
        }
        done.wait()
        #expect(order.withLock { $0 } == [10, 400])
    }

    @Test func aPluginThatStopsAnsweringTimesOutAndIsReplaced() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let before = try #require(pool.pid())
        let start = MonotonicTime.now()
        let outcome = pool.callSync("test.stall", ["ms": 10_000], timeout: .milliseconds(300))
        let waited = MonotonicTime.now().since(start)
        #expect(outcome == .failure(.timedOut(plugin: "test", method: "test.stall", after: .milliseconds(300))))
        #expect(waited >= .milliseconds(300) && waited < .seconds(2), "timed out after \(waited)")
        // Silent for a whole timeout: the supervisor ends it and starts another.
        #expect(Support.eventually { pool.pid().map { $0 != before } ?? false })
        #expect(Support.eventually { !Support.isAlive(before) })
    }

    @Test func aStoppedPluginIsReplacedAndServiceReturns() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(Support.testPluginSpec(), sink: sink)
        defer { pool.shutdown() }
        let stopped = try #require(pool.pid())
        kill(stopped, SIGSTOP)
        let outcome = pool.callSync("test.echo", ["x"], timeout: .milliseconds(300))
        #expect(outcome == .failure(.timedOut(plugin: "test", method: "test.echo", after: .milliseconds(300))))
        #expect(Support.eventually { pool.pid().map { $0 != stopped } ?? false }, "the stopped process was not replaced")
        #expect(Support.eventually { !Support.isAlive(stopped) }, "the stopped process was not killed")
        #expect(pool.callSync("test.echo", ["back"]) == .success(["back"]))
        #expect(sink.records.contains { $0.contains("the plugin stopped answering") })
    }

    @Test func aSlowCallTimesOutWithoutRestartWhileOthersAreAnswered() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let before = try #require(pool.pid())
        let slow = DispatchSemaphore(value: 0)
        let slowOutcome = ResultBox()
        pool.call(method: "test.sleep", params: ["ms": 1200], timeout: .milliseconds(400)) { outcome in
            slowOutcome.set(outcome)
            slow.signal()
        }
        // Keep the plugin talking while the slow call waits.
        for _ in 0..<70 {
            #expect(pool.callSync("test.echo", [1]) == .success([1]))
            usleep(20_000)
        }
        slow.wait()
        guard case .failure(.timedOut) = slowOutcome.get() else {
            Issue.record("expected a timeout, got \(slowOutcome.get())")
            return
        }
        // The late answer (at ~1200 ms) was dropped quietly: same process, still serving.
        #expect(pool.pid() == before)
    }

    @Test func killNineMidCallFailsTheCallAndRecovers() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let before = try #require(pool.pid())
        let done = DispatchSemaphore(value: 0)
        let outcome = ResultBox()
        pool.call(method: "test.sleep", params: ["ms": 5000]) { result in
            outcome.set(result)
            done.signal()
        }
        usleep(50_000)
        kill(before, SIGKILL)
        #expect(done.wait(timeout: .now() + 2) == .success, "the call did not fail fast")
        guard case .failure(.connectionLost) = outcome.get() else {
            Issue.record("expected connectionLost, got \(outcome.get())")
            return
        }
        #expect(Support.eventually { pool.pid().map { $0 != before } ?? false })
        #expect(pool.callSync("test.echo", ["again"]) == .success(["again"]))
        #expect(pool.health.restarts >= 1)
    }

    @Test(arguments: [
        ("test.garbage", JSONValue.null, "not a JSON-RPC message"),
        ("test.oversize", JSONValue.object(["ms": 100_000]), "exceeds the 4096-byte limit"),
        ("test.unknownId", .null, "response to unknown id 987654321"),
        ("test.closeStdout", .null, "the plugin closed its stdout"),
    ])
    func aMisbehavingPluginFailsItsCallsAndIsRestarted(method: String, params: JSONValue, reason: String) throws {
        var spec = Support.testPluginSpec()
        spec.maxLineLength = 4096
        let sink = MemoryLogSink()
        let pool = try Support.startPool(spec, sink: sink)
        defer { pool.shutdown() }
        let before = try #require(pool.pid())
        // A call in flight when the plugin misbehaves must fail, not hang.
        let inFlight = DispatchSemaphore(value: 0)
        let inFlightOutcome = ResultBox()
        pool.call(method: "test.sleep", params: ["ms": 3000]) { outcome in
            inFlightOutcome.set(outcome)
            inFlight.signal()
        }
        _ = pool.callSync(method, params)
        #expect(inFlight.wait(timeout: .now() + 2) == .success)
        guard case .failure(.connectionLost(_, let detail)) = inFlightOutcome.get() else {
            Issue.record("expected connectionLost, got \(inFlightOutcome.get())")
            return
        }
        #expect(detail.contains(reason), "\(detail)")
        #expect(Support.eventually { pool.pid().map { $0 != before } ?? false })
        #expect(Support.eventually { !Support.isAlive(before) })
        #expect(sink.records.contains { $0.contains("plugin down; restarting") })
    }

    @Test func stderrIsForwardedTaggedWithThePluginName() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(Support.testPluginSpec(["--stderr-banner"]), sink: sink)
        defer { pool.shutdown() }
        #expect(pool.callSync("test.log", ["msg": "disk almost full", "field": 42]) == .success(nil))
        let found = Support.eventually {
            sink.objects.contains { $0["msg"] == "plain text from the plugin" }
        }
        #expect(found)
        let records = sink.objects
        let structured = try #require(records.first { $0["msg"] == "disk almost full" })
        #expect(structured["plugin.name"] == "test")
        #expect(structured["level"] == "warning")
        #expect(structured["test.field"] == 42)
        #expect(structured["plugin.pid"]?.intValue != nil)
        #expect(structured["ts"]?.stringValue?.hasSuffix("Z") == true)
        let plain = try #require(records.first { $0["msg"] == "plain text from the plugin" })
        #expect(plain["plugin.name"] == "test")
        #expect(plain["level"] == "info")
        #expect(records.contains { $0["msg"] == "plain banner line" })
    }

    @Test func notificationsReachTheHost() throws {
        let received = Mutex<[(String, JSONValue)]>([])
        let pool = try Support.startPool(Support.testPluginSpec()) { method, params in
            received.withLock { $0.append((method, params)) }
        }
        defer { pool.shutdown() }
        _ = pool.callSync("test.notify", ["clientIds": ["a", "b"]])
        #expect(Support.eventually { !received.withLock { $0 }.isEmpty })
        let first = try #require(received.withLock { $0.first })
        #expect(first.0 == "invalidate")
        #expect(try InvalidateParams(json: first.1).clientIDs == ["a", "b"])
    }

    @Test func scalarParamsAreRefusedBeforeSending() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        let before = try #require(pool.pid())
        guard case .failure(.remote(_, let error)) = pool.callSync("test.echo", 1) else {
            Issue.record("scalar params were sent")
            return
        }
        #expect(error.code == .invalidParams)
        #expect(pool.pid() == before)
    }

    @Test func pluginErrorsKeepTheirCode() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        guard case .failure(.remote(_, let error)) = pool.callSync("test.fail") else {
            Issue.record("expected a remote error")
            return
        }
        #expect(error.code == .storageFailure)
        guard case .failure(.remote(_, let unknown)) = pool.callSync("no.such.method") else {
            Issue.record("expected method not found")
            return
        }
        #expect(unknown.code == .methodNotFound)
    }

    @Test func gracefulShutdownLetsThePluginExit() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(Support.testPluginSpec(), sink: sink)
        let pid = try #require(pool.pid())
        pool.shutdown()
        #expect(!Support.isAlive(pid))
        #expect(sink.objects.contains { $0["msg"] == "plugin stopped" && $0["plugin.exit"] == "exited with status 0" })
        #expect(pool.callSync("test.echo", [1]) == .failure(.unavailable(plugin: "test", reason: "stopped")))
    }

    @Test func shutdownEscalatesToSigkill() throws {
        let sink = MemoryLogSink()
        let pool = try Support.startPool(Support.testPluginSpec(["--ignore-exit"]), sink: sink)
        let pid = try #require(pool.pid())
        let start = MonotonicTime.now()
        pool.shutdown()
        let took = MonotonicTime.now().since(start)
        #expect(!Support.isAlive(pid))
        // grace after `exit`, then grace after SIGTERM (ignored), then SIGKILL.
        #expect(took >= .milliseconds(1000) && took < .seconds(4), "took \(took)")
        #expect(sink.objects.contains { $0["plugin.exit"] == "killed by signal 9" })
    }

    @Test func aCrashLoopGivesUpAndFailsCallsFast() {
        var spec = Support.testPluginSpec(["--crash-on-start"])
        spec.restart.maxCrashes = 3
        let sink = MemoryLogSink()
        let pool = PluginPool(spec: spec, logger: Logger(sink: sink), hostVersion: "test")
        pool.start()
        defer { pool.shutdown() }
        guard case .failure = pool.waitUntilReady(timeout: .seconds(10)) else {
            Issue.record("a plugin that always crashes became ready")
            return
        }
        #expect(pool.health.processes[0].state == "failed")
        #expect(pool.health.restarts == 2)
        let start = MonotonicTime.now()
        guard case .failure(.unavailable(_, let reason)) = pool.callSync("test.echo") else {
            Issue.record("expected unavailable")
            return
        }
        #expect(MonotonicTime.now().since(start) < .milliseconds(50))
        #expect(reason.hasPrefix("failed:"))
        #expect(sink.records.contains { $0.contains("giving up until cooldown ends") })
    }

    @Test func aPluginThatStopsReadingMakesCallsFailAsOverloaded() throws {
        let pool = try Support.startPool(Support.testPluginSpec())
        defer { pool.shutdown() }
        // Block the serve loop, then queue more than the 8 MiB outbox.
        pool.call(method: "test.stall", params: ["ms": 3000], timeout: .seconds(10)) { _ in }
        let big: JSONValue = [.string(String(repeating: "y", count: 512 * 1024))]
        let overloaded = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<24 {
            group.enter()
            pool.call(method: "test.echo", params: big, timeout: .seconds(10)) { outcome in
                if case .failure(.overloaded) = outcome { overloaded.withLock { $0 += 1 } }
                group.leave()
            }
        }
        #expect(overloaded.withLock { $0 } >= 4)
        #expect(group.wait(timeout: .now() + 15) == .success)
    }
}
