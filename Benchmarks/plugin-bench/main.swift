import Dispatch
import Foundation
import Glibc
import Host
import PluginProtocol
import Synchronization

// Plugin transport benchmark (Benchmarks/README.md). Prints, from one run on one machine:
//   1. the raw pipe round-trip floor: a line of the same size bounced off `cat` through two pipes;
//   2. sequential plugin calls (one in flight): p50 / p99 / mean in µs, and the ratio of p50 to the floor;
//   3. pipelined plugin calls (a window in flight): calls per second.
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

func measurePipeFloor() -> [Double] {
    let cat = Process()
    cat.executableURL = URL(fileURLWithPath: "/bin/cat")
    let input = Pipe()
    let output = Pipe()
    cat.standardInput = input
    cat.standardOutput = output
    do { try cat.run() } catch {
        print("cannot run /bin/cat for the pipe floor: \(error)")
        exit(1)
    }
    let toChild = input.fileHandleForWriting.fileDescriptor
    let fromChild = output.fileHandleForReading.fileDescriptor
    var samples: [Double] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = MonotonicTime.now() + .milliseconds(Int64(seconds * 1000))
    while MonotonicTime.now() < deadline {
        let start = MonotonicTime.now()
        _ = requestLine.withUnsafeBytes { write(toChild, $0.baseAddress, $0.count) }
        var received = 0
        while received < requestLine.count {
            let count = buffer.withUnsafeMutableBytes { read(fromChild, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            received += count
        }
        samples.append(Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000)
    }
    try? input.fileHandleForWriting.close()
    cat.waitUntilExit()
    return samples.sorted()
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

func measureSequential() -> [Double] {
    var samples: [Double] = []
    let answered = DispatchSemaphore(value: 0)
    let deadline = MonotonicTime.now() + .milliseconds(Int64(seconds * 1000))
    while MonotonicTime.now() < deadline {
        let start = MonotonicTime.now()
        pool.call(method: "test.echo", params: params) { _ in answered.signal() }
        answered.wait()
        samples.append(Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000)
    }
    return samples.sorted()
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

// Warm up both paths, then measure.
_ = measureSequential()
let floor = measurePipeFloor()
let sequential = measureSequential()
let pipelined = measurePipelined()
pool.shutdown()

let floorP50 = percentile(floor, 0.5)
let callP50 = percentile(sequential, 0.5)
print("plugin transport benchmark (message \(requestLine.count) bytes, \(format(seconds)) s per phase, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("  pipe floor (cat)      p50 \(format(floorP50)) µs   p99 \(format(percentile(floor, 0.99))) µs   n=\(floor.count)")
print("  sequential call       p50 \(format(callP50)) µs   p99 \(format(percentile(sequential, 0.99))) µs   n=\(sequential.count)   p50 ratio to floor \(String(format: "%.2f", callP50 / floorP50))x")
print("  pipelined (window \(window))  \(Int(pipelined.callsPerSecond)) calls/s   failures \(pipelined.failures)")
