import Foundation
import Glibc
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// The server over real sockets, with a responder that echoes what it was asked and can answer late.
@Suite struct HTTPServerTests {
    struct EchoResponder: HTTPResponder {
        func respond(to request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
            let body = "\(request.method) \(request.target) \(request.body.count)"
            if request.path == "/slow" {
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { completion(.text(200, body)) }
            } else {
                completion(.text(200, body))
            }
        }
    }

    final class CountingObserver: HTTPObserver {
        let completed = Mutex<[Int]>([])
        let refused = Mutex(0)
        func requestCompleted(_ request: HTTPRequest?, _ response: HTTPResponse, context: RequestContext, duration: Duration) {
            completed.withLock { $0.append(response.status) }
        }
        func connectionRefused(reason: String) { refused.withLock { $0 += 1 } }
    }

    private func server(_ configure: (inout HTTPLimits) -> Void = { _ in }, observer: CountingObserver = CountingObserver())
        throws -> HTTPServer
    {
        var limits = HTTPLimits()
        limits.threads = 2
        configure(&limits)
        return try HTTPServer(host: "127.0.0.1", port: 0, limits: limits, responder: EchoResponder(), observer: observer)
    }

    @Test func answersWithLengthDateAndKeepAlive() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        client.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let responses = client.readResponses(2)
        #expect(responses.map(\.body) == ["GET /a 0", "POST /b 3"])
        #expect(responses[0].headers["content-length"] == "8")
        #expect(responses[0].headers["date"]?.hasSuffix(" GMT") == true)
        #expect(responses[0].headers["connection"] == nil)
    }

    @Test func pipelinedRequestsAnswerInOrderEvenWhenTheFirstIsSlow() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast1 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast2 HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = client.readResponses(3)
        #expect(responses.map(\.body) == ["GET /slow 0", "GET /fast1 0", "GET /fast2 0"])
    }

    @Test func aThousandPipelinedRequests() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send(String(repeating: "GET /p HTTP/1.1\r\nHost: x\r\n\r\n", count: 1000))
        let responses = client.readResponses(1000, timeout: .seconds(10))
        #expect(responses.count == 1000)
        #expect(responses.allSatisfy { $0.status == 200 })
    }

    @Test func http10ClosesAfterTheResponse() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /old HTTP/1.0\r\n\r\n")
        let text = client.readAll()
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.hasSuffix("GET /old 0"))
    }

    @Test func expectContinueGetsAnInterimResponse() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = client.readResponses(1)
        #expect(interim.first?.status == 100)
        client.send("data")
        let final = client.readResponses(1)
        #expect(final.first?.body == "POST /up 4")
    }

    @Test func chunkedBodyReachesTheHandler() throws {
        let server = try server()
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(client.readResponses(1).first?.body == "POST /c 5")
    }

    @Test func malformedRequestsGetAnErrorAndClose() throws {
        let server = try server()
        defer { server.shutdown() }
        for (text, status) in [("GARBAGE\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
                               ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", 413)]
        {
            let client = try RawHTTPClient(port: server.port)
            client.send(text)
            let reply = client.readAll()
            #expect(reply.hasPrefix("HTTP/1.1 \(status) "), "\(text.debugDescription) got \(reply.prefix(40))")
            #expect(reply.contains("Connection: close"))
            #expect(reply.contains("\"error_description\""))
        }
    }

    @Test func slowHeadersTimeOutWith408() throws {
        let server = try server { $0.headerTimeout = .milliseconds(300) }
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHo")
        let reply = client.readAll(timeout: .seconds(3))
        #expect(reply.hasPrefix("HTTP/1.1 408 "))
    }

    @Test func idleKeepAliveConnectionsAreClosed() throws {
        let server = try server { $0.idleTimeout = .milliseconds(300) }
        defer { server.shutdown() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponses(1).count == 1)
        #expect(client.isClosedByPeer(within: .seconds(3)))
    }

    @Test func aBurstOfConnectionsIsSpreadEvenlyOverTheLoops() throws {
        let server = try server()
        defer { server.shutdown() }
        // Connected all at once, as a client pool or a benchmark does: one loop wakes for the burst.
        let clients = try (0..<10).map { _ in try RawHTTPClient(port: server.port) }
        for client in clients { client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(clients.allSatisfy { $0.readResponses(1).count == 1 })
        #expect(server.openConnectionsPerLoop == [5, 5])
        _ = clients
    }

    @Test func connectionsOverTheLimitAreRefusedWith503() throws {
        let observer = CountingObserver()
        let server = try server({ $0.maxConnections = 3 }, observer: observer)
        defer { server.shutdown() }
        let held = try (0..<3).map { _ in try RawHTTPClient(port: server.port) }
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { server.openConnections == 3 })
        let extra = try RawHTTPClient(port: server.port)
        #expect(extra.readAll(timeout: .seconds(2)).hasPrefix("HTTP/1.1 503 "))
        #expect(observer.refused.withLock { $0 } == 1)
        _ = held
    }

    @Test func shutdownFinishesTheRequestInFlight() throws {
        let server = try server()
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(50_000)
        let stopper = Thread { server.shutdown(grace: .seconds(5)) }
        stopper.start()
        let reply = client.readAll(timeout: .seconds(3))
        #expect(reply.hasPrefix("HTTP/1.1 200 "))
        #expect(reply.contains("Connection: close"))
        #expect(reply.hasSuffix("GET /slow 0"))
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { (try? RawHTTPClient(port: server.port)) == nil })
    }

    @Test func curlTalksToIt() throws {
        let server = try server()
        defer { server.shutdown() }
        let output = try runCommand("/usr/bin/curl", ["-s", "-d", "x=1", "http://127.0.0.1:\(server.port)/curl"])
        #expect(output == "POST /curl 3")
    }
}

/// Runs a command to completion and returns its stdout (and its stderr too, with `mergeErrors`).
func runCommand(_ path: String, _ arguments: [String], input: String? = nil, mergeErrors: Bool = false) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    if mergeErrors { process.standardError = output }
    if let input {
        let pipe = Pipe()
        process.standardInput = pipe
        pipe.fileHandleForWriting.write(Data(input.utf8))
        try pipe.fileHandleForWriting.close()
    }
    try process.run()
    // readToEnd throws where readDataToEndOfFile traps (a read error once crashed the whole test run).
    let data = try output.fileHandleForReading.readToEnd() ?? Data()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
