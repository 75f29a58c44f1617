import Dispatch
import Foundation
import Glibc
import Host
import PluginProtocol
import Synchronization

// Plugin transport benchmark (Benchmarks/README.md). Prints, from one run on one machine:
//   1. the raw pipe round-trip floor: a line of the same size bounced off `cat` through two pipes;
//   2. sequential plugin calls (one in flight), chained: each call issued from the previous one's completion,
//      as the host chains store and policy calls; and from a blocked caller thread (one more thread hop);
//   3. pipelined plugin calls (a window in flight): calls per second.
// The floor and the sequential calls are measured in alternating batches, so machine load (which moves the
// floor between ~4 µs busy and ~40 µs idle on a VM, through idle-exit latency) affects both alike.
// Usage: gatehouse-plugin-bench [--seconds S] [--window N] [--plugin PATH]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let seconds = Double(option("--seconds") ?? "3") ?? 3
let window = Int(option("--window") ?? "256") ?? 256
let ownDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
let pluginPath = option("--plugin") ?? ownDirectory + "/TestPlugin"

let params: JSONValue = ["clientId": "prometheus-scraper", "request": ["method": "GET", "path": "/api/v1/metrics"]]
let requestLine = RPCMessage.request(id: .int(123456), method: "test.echo", params: params).line()

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func format(_ value: Double) -> String { String(format: "%.1f", value) }

// MARK: 1. Pipe floor

/// A `cat` process to bounce lines off; measured in batches between the plugin batches.
final class PipeFloor {
    let cat = Process()
    let input = Pipe()
    let output = Pipe()
    var buffer = [UInt8](repeating: 0, count: 4096)

    init() {
        cat.executableURL = URL(fileURLWithPath: "/bin/cat")
        cat.standardInput = input
        cat.standardOutput = output
        do { try cat.run() } catch {
            print("cannot run /bin/cat for the pipe floor: \(error)")
            exit(1)
        }
    }

    func batch(_ count: Int) -> [Double] {
        let toChild = input.fileHandleForWriting.fileDescriptor
        let fromChild = output.fileHandleForReading.fileDescriptor
        var samples: [Double] = []
        for _ in 0..<count {
            let start = MonotonicTime.now()
            _ = requestLine.withUnsafeBytes { write(toChild, $0.baseAddress, $0.count) }
            var received = 0
            while received < requestLine.count {
                let got = buffer.withUnsafeMutableBytes { read(fromChild, $0.baseAddress, $0.count) }
                if got <= 0 { break }
                received += got
            }
            samples.append(Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000)
        }
        return samples
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        cat.waitUntilExit()
    }
}

// MARK: 2 and 3. Plugin calls

var spec = PluginSpec(name: "bench", command: pluginPath)
spec.callTimeout = .seconds(10)
let pool = PluginPool(spec: spec, logger: Logger(minimumLevel: .warning), hostVersion: BuildInfo.version)
pool.start()
if case .failure(let error) = pool.waitUntilReady(timeout: .seconds(10)) {
    FileHandle.standardError.write(Data("cannot start \(pluginPath): \(error)\n".utf8))
    exit(1)
}

/// `count` calls from a blocked caller: call, wait on a semaphore, repeat.
func blockingBatch(_ count: Int) -> [Double] {
    var samples: [Double] = []
    let answered = DispatchSemaphore(value: 0)
    for _ in 0..<count {
        let start = MonotonicTime.now()
        pool.call(method: "test.echo", params: params) { _ in answered.signal() }
        answered.wait()
        samples.append(Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000)
    }
    return samples
}

/// `count` calls, each issued from the previous call's completion (on the plugin's reader thread).
final class ChainedCalls: @unchecked Sendable {
    // @unchecked: `samples`, `remaining` and `started` are touched by one completion at a time (one call is
    // in flight), and read by the waiting thread only after `done` is signalled.
    var samples: [Double] = []
    var remaining = 0
    var started = MonotonicTime.now()
    let done = DispatchSemaphore(value: 0)

    func batch(_ count: Int) -> [Double] {
        samples = []
        remaining = count
        next()
        done.wait()
        return samples
    }

    private func next() {
        started = MonotonicTime.now()
        pool.call(method: "test.echo", params: params) { [self] _ in
            samples.append(Double(MonotonicTime.now().since(started).nanosecondsClamped) / 1000)
            remaining -= 1
            if remaining > 0 { next() } else { done.signal() }
        }
    }
}

func measurePipelined() -> (callsPerSecond: Double, failures: Int) {
    let slots = DispatchSemaphore(value: window)
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let start = MonotonicTime.now()
    let deadline = start + .milliseconds(Int64(seconds * 1000))
    var issued = 0
    while MonotonicTime.now() < deadline {
        slots.wait()
        issued += 1
        pool.call(method: "test.echo", params: params) { outcome in
            if case .failure = outcome { failed.add(1, ordering: .relaxed) }
            completed.add(1, ordering: .relaxed)
            slots.signal()
        }
    }
    while completed.load(ordering: .relaxed) < issued { usleep(100) }
    let elapsed = MonotonicTime.now().since(start).secondsDouble
    return (Double(issued) / elapsed, failed.load(ordering: .relaxed))
}

// Warm up, then alternate batches of the three sequential measurements until the time is up.
let pipeFloor = PipeFloor()
let chained = ChainedCalls()
_ = chained.batch(2000)
_ = blockingBatch(2000)
_ = pipeFloor.batch(2000)
var floor: [Double] = []
var chainedSamples: [Double] = []
var blockingSamples: [Double] = []
let sequentialDeadline = MonotonicTime.now() + .milliseconds(Int64(seconds * 3000))
while MonotonicTime.now() < sequentialDeadline {
    floor += pipeFloor.batch(500)
    chainedSamples += chained.batch(500)
    blockingSamples += blockingBatch(500)
}
pipeFloor.stop()
let pipelined = measurePipelined()
pool.shutdown()

floor.sort()
chainedSamples.sort()
blockingSamples.sort()
let floorP50 = percentile(floor, 0.5)
func line(_ label: String, _ samples: [Double], ratio: Bool = true) -> String {
    let p50 = percentile(samples, 0.5)
    return "  \(label)  p50 \(format(p50)) µs   p99 \(format(percentile(samples, 0.99))) µs   n=\(samples.count)"
        + (ratio ? "   p50 ratio to floor \(String(format: "%.2f", p50 / floorP50))x" : "")
}
print("plugin transport benchmark (message \(requestLine.count) bytes, \(ProcessInfo.processInfo.activeProcessorCount) cores; sequential phases interleaved in batches of 500)")
print(line("pipe floor (cat)            ", floor, ratio: false))
print(line("sequential, chained         ", chainedSamples))
print(line("sequential, blocking caller ", blockingSamples))
print("  pipelined (window \(window))     \(Int(pipelined.callsPerSecond)) calls/s   failures \(pipelined.failures)")
