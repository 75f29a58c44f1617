import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// Logging never holds up request handling: a log reader that stops reading costs log lines (counted and
/// reported), never service.
@Suite struct LogBufferingTests {
    /// A FIFO whose reader is open but never reads until the test drains it.
    final class StalledReader {
        let path: String
        private(set) var fd: Int32

        init(in directory: TemporaryDirectory) throws {
            path = directory.path + "/stderr.fifo"
            guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo: \(String(cString: strerror(errno)))") }
            fd = open(path, O_RDONLY | O_NONBLOCK)
            guard fd >= 0 else { throw TestFailure("open fifo: \(String(cString: strerror(errno)))") }
        }

        /// Everything written so far (the reader resumes).
        func drain() -> String {
            var text: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(fd, &chunk, chunk.count)
                guard count > 0 else { break }
                text += chunk[0..<count]
            }
            return String(decoding: text, as: UTF8.self)
        }

        /// The reader goes away: writers get EPIPE instead of waiting (a host that blocks on its log could
        /// not even shut down otherwise).
        func closeReader() {
            if fd >= 0 { close(fd) }
            fd = -1
        }

        deinit { closeReader() }
    }

    @Test func aSinkWhoseOutputIsStuckDropsAndCountsInsteadOfBlocking() throws {
        let directory = TemporaryDirectory()
        let reader = try StalledReader(in: directory)
        let output = open(reader.path, O_WRONLY)
        defer { close(output) }
        let sink = BufferedLogSink(fd: output, capacity: 64 << 10)
        let line = Array(String(repeating: "x", count: 199).utf8) + [UInt8(ascii: "\n")]
        let started = MonotonicTime.now()
        // The pipe takes 64 KiB and the buffer 64 KiB more: 5,000 lines of 200 bytes cannot all fit.
        for _ in 0..<5000 { sink.write(line: line) }
        #expect(MonotonicTime.now().since(started) < .seconds(1), "writes waited for the stuck output")
        #expect(sink.droppedLines > 2000)
        // The reader comes back: the lost lines are reported (in one record or, if the writer took a batch
        // while lines were still being dropped, several), and lines written afterwards get through.
        var text = ""
        func drainUntilFlushed() -> Bool {
            PluginTestSupport.eventually(timeout: .seconds(10)) {
                text += reader.drain()
                return sink.flush(timeout: .milliseconds(10))
            }
        }
        #expect(drainUntilFlushed())
        let dropped = sink.droppedLines
        sink.write(line: Array(#"{"msg":"after"}"#.utf8) + [UInt8(ascii: "\n")])
        #expect(drainUntilFlushed())
        text += reader.drain()
        let reports = text.split(separator: "\n").filter { $0.contains("log lines dropped") }
        let reported = reports.compactMap { try? JSONParser.parse(String($0))["log.dropped_lines"]?.intValue }.reduce(0, +)
        #expect(!reports.isEmpty)
        #expect(reported == Int64(dropped))
        #expect(text.hasSuffix(#"{"msg":"after"}"# + "\n"))
    }

    @Test func linesFromManyThreadsArriveWholeAndInOrderPerThread() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let sink = BufferedLogSink(fd: fd)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for index in 0..<20_000 { sink.write(line: Array("\(thread) \(index)\n".utf8)) }
        }
        #expect(sink.flush(timeout: .seconds(10)))
        #expect(sink.droppedLines == 0)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 80_000)
        var next = [Int](repeating: 0, count: 4)
        for line in lines {
            let parts = line.split(separator: " ").compactMap { Int($0) }
            guard parts.count == 2, parts[1] == next[parts[0]] else {
                Issue.record("line out of order or torn: \(line)")
                return
            }
            next[parts[0]] += 1
        }
    }

    @Test func timestampsAreRFC3339UTCWithMilliseconds() throws {
        let stamp = Logger.timestamp()
        #expect(stamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(stamp)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: stamp))
        #expect(abs(parsed.timeIntervalSinceNow) < 5)
    }

    @Test func aStalledLogReaderDoesNotStopServing() throws {
        let directory = TemporaryDirectory()
        let reader = try StalledReader(in: directory)
        let served = try ServedGatehouse(directory: directory, stderrPath: reader.path)
        defer {
            reader.closeReader()
            served.stop()
        }
        let client = try served.addClient(name: "prom")
        // The access log writes a line per request (~450 bytes with this path): 60 batches of 250 make far
        // more than the pipe (64 KiB) and the host's log buffer (4 MiB) hold once the reader stops.
        let filler = "GET /" + String(repeating: "x", count: 300) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let connection = try RawHTTPClient(port: served.port)
        for batch in 0..<60 {
            connection.send(String(repeating: filler, count: 250))
            let answered = connection.readResponses(250).count
            let status = try served.get("/api/v1/status").status
            guard answered == 250, status == 200 else {
                Issue.record("batch \(batch): \(answered) of 250 answered, status \(status), with the log reader stalled")
                return
            }
        }
        let token = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-u", "\(client.id):\(client.secret)",
                                                     "-d", "grant_type=client_credentials", served.url + "/api/v1/oauth/token"])
        #expect(token.contains("access_token"), "token request with the log reader stalled: \(token)")
        let dropped = try #require(try served.metric("gatehouse_log_lines_dropped_total", as: client))
        #expect(dropped > 0)
        // The reader resumes: a record says how many lines were lost.
        var text = ""
        #expect(PluginTestSupport.eventually(timeout: .seconds(10)) {
            text += reader.drain()
            _ = try? served.get("/api/v1/status")
            return text.contains("log lines dropped")
        })
    }
}
