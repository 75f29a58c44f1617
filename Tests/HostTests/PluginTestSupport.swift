import Foundation
import Glibc
import PluginProtocol
import Synchronization
@testable import Host

/// Paths and helpers for tests that run real plugin executables.
enum PluginTestSupport {
    /// The directory holding the built executables (the test bundle sits beside them).
    static let buildDirectory: String = Bundle.main.bundlePath

    static func executable(_ name: String) -> String { buildDirectory + "/" + name }

    /// The package root, for files under Docs/ and Tests/.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func testPluginSpec(_ arguments: [String] = [], name: String = "test") -> PluginSpec {
        var spec = PluginSpec(name: name, command: executable("TestPlugin"))
        spec.arguments = arguments
        spec.callTimeout = .seconds(5)
        spec.startTimeout = .seconds(5)
        spec.shutdownGrace = .milliseconds(500)
        spec.restart.initialBackoff = .milliseconds(20)
        spec.restart.maxBackoff = .milliseconds(200)
        return spec
    }

    /// Starts a pool and waits for it; the caller shuts it down.
    static func startPool(_ spec: PluginSpec, sink: MemoryLogSink = MemoryLogSink(),
                          onNotification: @escaping @Sendable (String, JSONValue) -> Void = { _, _ in })
        throws -> PluginPool
    {
        let pool = PluginPool(spec: spec, logger: Logger(sink: sink, minimumLevel: .debug), hostVersion: "test",
                              onNotification: onNotification)
        pool.start()
        try pool.waitUntilReady(timeout: .seconds(10)).get()
        return pool
    }

    /// Waits until `condition` holds or `timeout` passes; true if it held.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicTime.now() + timeout
        while MonotonicTime.now() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    static func isAlive(_ pid: Int32) -> Bool {
        // Reaped processes are gone; a zombie would still answer kill(0), but the supervisor reaps.
        kill(pid, 0) == 0
    }
}

extension PluginPool {
    /// A blocking call for tests.
    func callSync(_ method: String, _ params: JSONValue = .null, timeout: Duration? = nil)
        -> Result<JSONValue, PluginCallError>
    {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        call(method: method, params: params, timeout: timeout) { outcome in
            box.set(outcome)
            done.signal()
        }
        done.wait()
        return box.get()
    }

    func pid() -> Int32? {
        if case .success(let value) = callSync("test.pid"), let pid = value.intValue { return Int32(pid) }
        return nil
    }
}

final class ResultBox: @unchecked Sendable {
    // Written once by the completion before the semaphore is signalled, read after the wait: the
    // semaphore orders the two accesses, so no lock is needed.
    private var value: Result<JSONValue, PluginCallError>?
    func set(_ outcome: Result<JSONValue, PluginCallError>) { value = outcome }
    func get() -> Result<JSONValue, PluginCallError> { value! }
}

final class ResultCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
