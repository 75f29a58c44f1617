import Foundation
import Glibc
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// The served binary against clients that misuse a connection: half-closing after pipelining, and pipelining
/// without ever reading the answers (issue 13, items 1 and 8).
@Suite(.serialized) struct ConnectionAbuseTests {
    /// Three token requests (each goes through the store and policy plugins) and a FIN right behind them:
    /// every request received before the FIN is answered, then the host closes.
    @Test func halfCloseAfterPipelinedTokenRequestsAnswersThemAll() throws {
        let gatehouse = try ServedGatehouse(config: #"{"access_log": false}"#)
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "pipeliner")
        let basic = Data("\(client.id):\(client.secret)".utf8).base64EncodedString()
        let body = "grant_type=client_credentials"
        let request = "POST /api/v1/oauth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(basic)\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let connection = try RawHTTPClient(port: gatehouse.port)
        connection.send(String(repeating: request, count: 3))
        shutdown(connection.fd, Int32(SHUT_WR))
        let responses = ParsedResponse.parseAll(Array(connection.readAll(timeout: .seconds(10)).utf8))
        #expect(responses.map(\.status) == [200, 200, 200])
    }

    /// Two clients pipeline `GET /nonexistent` as fast as they can and never read (one ends with
    /// `Connection: close` and goes on sending). The host must stop reading from them once their unsent answers
    /// pass `http.max_output_bytes` (64 KiB by default) and read nothing more once closing, so its memory
    /// stays bounded: the bound asserted here is 32 MiB of RSS growth over 8 s (one such connection holds a few
    /// hundred KiB at most: 64 KiB of output plus one answer, one request behind the one answered, one read). Meanwhile another client is served at normal latency.
    @Test func aClientThatNeverReadsCannotGrowTheHost() throws {
        let gatehouse = try ServedGatehouse(config: #"{"access_log": false}"#)
        defer { gatehouse.stop() }
        let pid = try #require(gatehouse.pid)
        // Warm up: the first requests allocate what every request reuses.
        for _ in 0..<20 { _ = try gatehouse.get("/api/v1/status") }
        let rssBefore = try residentKiB(of: pid)
        let deadline = MonotonicTime.now() + .seconds(8)
        let sentBytes = ByteCount()
        let port = gatehouse.port
        let flooders = [false, true].map { closing in
            Thread { flood(port: port, until: deadline, closing: closing, sent: sentBytes) }
        }
        flooders.forEach { $0.start() }
        usleep(3_000_000)
        let latencies = try statusLatencies(port: gatehouse.port, count: 21)
        let p50 = latencies.sorted()[latencies.count / 2]
        while MonotonicTime.now() < deadline { usleep(100_000) }
        let rssAfter = try residentKiB(of: pid)
        let grownMiB = Double(rssAfter - rssBefore) / 1024
        let flooded = Double(sentBytes.value.load(ordering: .relaxed)) / 1_048_576
        print("flood: \(String(format: "%.1f", flooded)) MiB sent; host RSS grew \(String(format: "%.1f", grownMiB)) MiB; "
              + "other client p50 \(String(format: "%.2f", p50)) ms")
        #expect(grownMiB < 32, "host RSS grew \(grownMiB) MiB while two clients pipelined without reading")
        #expect(p50 < 20, "another client's p50 was \(p50) ms during the flood")
        usleep(300_000)  // Let the flooders' threads finish.
    }

    private func residentKiB(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// Milliseconds for each of `count` sequential `GET /api/v1/status` on one keep-alive connection.
    private func statusLatencies(port: UInt16, count: Int) throws -> [Double] {
        let client = try RawHTTPClient(port: port)
        return (0..<count).map { _ in
            let start = MonotonicTime.now()
            client.send("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = client.readResponses(1, timeout: .seconds(5))
            return Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1_000_000
        }
    }
}

/// Pipelines 404s at `port` until `deadline` (or 256 MiB), never reading, with a 4 KiB receive buffer so the
/// answers back up at once. `closing`: after 20,000 requests, one with `Connection: close`, then junk: a closing
/// connection must not read (today it buffered everything, at the speed of loopback).
private func flood(port: UInt16, until deadline: MonotonicTime, closing: Bool, sent: ByteCount) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var small: Int32 = 4096
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return }
    let get = "GET /nonexistent HTTP/1.1\r\nHost: x\r\n\r\n"
    var first = Array(String(repeating: get, count: 20_000).utf8)
    if closing { first += Array("GET /nonexistent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8) }
    let batch = closing ? [UInt8](repeating: UInt8(ascii: "j"), count: 64 * 1024) : Array(String(repeating: get, count: 500).utf8)
    var total = 0
    var pending = first[...]
    while MonotonicTime.now() < deadline && total < 256 << 20 {
        if pending.isEmpty { pending = batch[...] }
        let written = pending.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if written < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { return }
        guard written > 0 else { continue }
        pending = pending.dropFirst(written)
        total += written
        sent.value.wrappingAdd(written, ordering: .relaxed)
    }
    while MonotonicTime.now() < deadline { usleep(50_000) }  // Hold the connection open until the end.
}

private final class ByteCount: Sendable {
    let value = Atomic<Int>(0)
}
