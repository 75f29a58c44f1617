import Testing
@testable import Host

/// The connection state machine without sockets: a simulated socket that takes what it is told to, a clock that
/// moves when the test says, and a handler that answers when the test says.
@Suite struct ConnectionStateMachineTests {
    /// Drives one machine the way `EventLoop` does and records what it did.
    struct Driver {
        var machine: ConnectionStateMachine
        var now = MonotonicTime(nanoseconds: 1_000_000_000)
        /// Bytes the simulated socket still accepts; nil: unlimited.
        var socketRoom: Int?
        var sent: [UInt8] = []
        var dispatched: [HTTPRequest] = []
        var log: [String] = []
        var closed = false
        var halfClosed = false

        init(_ configure: (inout HTTPLimits) -> Void = { _ in }) {
            var limits = HTTPLimits()
            configure(&limits)
            machine = ConnectionStateMachine(remoteAddress: "192.0.2.1", limits: limits, now: now)
        }

        var sentText: String { String(decoding: sent, as: UTF8.self) }
        var responses: [ParsedResponse] { ParsedResponse.parseAll(sent) }

        mutating func receive(_ text: String) {
            machine.handle(.received(Array(text.utf8)[...]), now: now)
            run()
        }

        mutating func event(_ event: ConnectionStateMachine.Event) {
            machine.handle(event, now: now)
            run()
        }

        mutating func respond(_ status: Int, _ body: String = "ok") {
            event(.responded(.text(status, body), date: "Tue, 01 Dec 2026 00:00:00 GMT"))
        }

        mutating func advance(_ duration: Duration) {
            now = now + duration
            event(.tick(date: "Tue, 01 Dec 2026 00:00:00 GMT"))
        }

        /// The socket takes `bytes` more and reports itself writable.
        mutating func drainSocket(_ bytes: Int? = nil) {
            socketRoom = bytes
            event(.writable)
        }

        mutating func run() {
            while let action = machine.nextAction(now: now, date: "Tue, 01 Dec 2026 00:00:00 GMT") {
                switch action {
                case .dispatch(let request, _):
                    dispatched.append(request)
                    log.append("dispatch \(request.target)")
                case .send:
                    let take = machine.withUnsentOutput { raw in
                        let take = min(raw.count, socketRoom ?? raw.count)
                        sent += raw[0..<take]
                        return take
                    }
                    if take == 0 {
                        machine.handle(.sendWouldBlock, now: now)
                    } else {
                        socketRoom = socketRoom.map { $0 - take }
                        machine.handle(.sent(take), now: now)
                    }
                case .watch(let read, let write):
                    log.append("watch read=\(read) write=\(write)")
                case .completed(_, let response, _):
                    log.append("completed \(response.status)")
                case .shutdownWrite:
                    halfClosed = true
                    log.append("shutdownWrite")
                case .close:
                    closed = true
                    log.append("close")
                }
            }
        }
    }

    private static let get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test func aRequestIsDispatchedAnsweredAndTheConnectionKeptAlive() {
        var driver = Driver()
        driver.receive(Self.get)
        #expect(driver.log == ["dispatch /a"])
        #expect(driver.machine.phase == .awaitingResponse)
        driver.respond(200)
        #expect(driver.log == ["dispatch /a", "completed 200"])
        #expect(driver.responses.map(\.status) == [200])
        #expect(driver.responses.first?.headers["connection"] == nil)
        #expect(driver.machine.phase == .reading && !driver.closed)
    }

    @Test func pipelinedRequestsGoToTheHandlerOneAtATime() {
        var driver = Driver()
        driver.receive(Self.get + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(driver.dispatched.map(\.target) == ["/a"])
        driver.respond(200, "a")
        #expect(driver.dispatched.map(\.target) == ["/a", "/b"])
        driver.respond(200, "b")
        #expect(driver.responses.map(\.body) == ["a", "b"])
    }

    @Test func connectionCloseAndHTTP10CloseAfterTheResponseWithAFINFirst() {
        for request in ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"] {
            var driver = Driver()
            driver.receive(request)
            driver.respond(200)
            #expect(driver.responses.first?.headers["connection"] == "close")
            #expect(driver.halfClosed && !driver.closed, "lingers for the peer's FIN")
            #expect(driver.machine.wantsToRead, "reads only to discard")
            driver.receive("junk that must not be kept")
            #expect(driver.machine.bufferedInput == 0)
            driver.event(.inputEnded)
            #expect(driver.closed)
        }
    }

    @Test func aClosingConnectionDiesAfterTheLingerEvenIfThePeerKeepsSending() {
        var driver = Driver()
        driver.receive("GARBAGE\r\n\r\n")
        #expect(driver.responses.map(\.status) == [400])
        #expect(driver.halfClosed)
        for _ in 0..<3 {
            driver.receive(String(repeating: "x", count: 1000))
            driver.advance(.milliseconds(500))
        }
        #expect(!driver.closed, "reads do not count as activity, but the linger is 2 s")
        driver.advance(.milliseconds(600))
        #expect(driver.closed)
    }

    @Test func expectContinueSendsTheInterimResponseBeforeTheBody() {
        var driver = Driver()
        driver.receive("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        #expect(driver.sentText == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(driver.dispatched.isEmpty)
        driver.receive("data")
        #expect(driver.dispatched.first?.body == Array("data".utf8))
    }

    // MARK: - Half-close (issue 13 item 8)

    @Test func aFINAfterPipelinedRequestsStillAnswersEveryOne() {
        var driver = Driver()
        driver.receive(String(repeating: Self.get, count: 3))
        driver.event(.inputEnded)
        #expect(driver.log.contains("watch read=false write=false"))
        for index in 0..<3 {
            #expect(driver.dispatched.count == index + 1)
            driver.respond(200, "\(index)")
        }
        #expect(driver.responses.map(\.body) == ["0", "1", "2"])
        #expect(driver.responses.last?.headers["connection"] == "close")
        #expect(driver.closed, "no linger: the peer has finished already")
    }

    @Test func aFINInTheMiddleOfARequestClosesAfterWhatIsQueued() {
        var driver = Driver()
        driver.socketRoom = 0
        driver.receive(Self.get + "GET /partial HTTP/1.1\r\nHo")
        driver.respond(200)
        driver.event(.inputEnded)
        #expect(!driver.closed, "the answer to the complete request is still unsent")
        driver.drainSocket()
        #expect(driver.responses.map(\.status) == [200])
        #expect(driver.closed)
    }

    @Test func aFINOnAnIdleConnectionClosesIt() {
        var driver = Driver()
        driver.receive(Self.get)
        driver.respond(200)
        driver.event(.inputEnded)
        #expect(driver.closed)
    }

    // MARK: - Back-pressure and memory (issue 13 item 1)

    @Test func aClientThatDoesNotReadStopsBeingParsedAndRead() {
        var driver = Driver { $0.maxOutputBytes = 1000 }
        driver.socketRoom = 0
        driver.receive(String(repeating: Self.get, count: 100))
        // Answered one by one until more than 1000 bytes wait unsent; then nothing more is parsed or read.
        for _ in 0..<100 where driver.machine.phase == .awaitingResponse { driver.respond(200) }
        let answered = driver.dispatched.count
        #expect(answered < 20, "parsed \(answered) requests while their answers could not be sent")
        #expect(driver.machine.unsentOutputCount >= 1000 && driver.machine.unsentOutputCount < 1200)
        #expect(!driver.machine.wantsToRead)
        #expect(driver.log.last == "watch read=false write=true")
        // The client reads: everything is answered, and reading resumes.
        driver.drainSocket()
        while driver.machine.phase == .awaitingResponse { driver.respond(200) }
        #expect(driver.responses.count == 100)
        #expect(driver.machine.wantsToRead)
    }

    @Test func bufferedInputIsBoundedWhileAHandlerWorks() {
        var driver = Driver { $0.maxHeaderBytes = 1024; $0.maxBodyBytes = 1024 }
        driver.receive(Self.get + String(repeating: Self.get, count: 100))
        #expect(driver.machine.phase == .awaitingResponse)
        #expect(!driver.machine.wantsToRead, "\(driver.machine.bufferedInput) bytes buffered and still reading")
        driver.respond(200)
        #expect(driver.dispatched.count == 2)
    }

    @Test func aPeerThatNeverReadsIsClosedAfterTheWriteTimeout() {
        var driver = Driver { $0.writeTimeout = .seconds(5) }
        driver.socketRoom = 100
        driver.receive(Self.get)
        driver.respond(200, String(repeating: "x", count: 500))
        driver.advance(.seconds(4))
        driver.drainSocket(100)  // Some progress restarts the clock.
        driver.advance(.seconds(4))
        #expect(!driver.closed)
        driver.advance(.seconds(2))
        #expect(driver.closed)
    }

    @Test func aClosingConnectionThatCannotSendDiesAfterTheWriteTimeout() {
        var driver = Driver { $0.writeTimeout = .seconds(5) }
        driver.socketRoom = 0
        driver.receive("GET / HTTP/1.0\r\n\r\n")
        driver.respond(200)
        #expect(driver.machine.phase == .closing && !driver.machine.wantsToRead)
        driver.receive("more")  // Even if it arrived, it would not be kept.
        #expect(driver.machine.bufferedInput == 0)
        driver.advance(.seconds(6))
        #expect(driver.closed)
    }

    // MARK: - Timeouts

    @Test func aSlowRequestGets408AfterTheHeaderTimeout() {
        var driver = Driver { $0.headerTimeout = .seconds(10) }
        driver.receive("GET / HTTP/1.1\r\nHo")
        driver.advance(.seconds(5))
        driver.receive("st: x\r\nX: 1")  // Trickling bytes do not restart the clock (slowloris).
        driver.advance(.seconds(6))
        #expect(driver.responses.map(\.status) == [408])
        #expect(driver.log.contains("completed 408") && driver.halfClosed)
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() {
        var driver = Driver { $0.idleTimeout = .seconds(60) }
        driver.receive(Self.get)
        driver.advance(.seconds(100))
        #expect(!driver.closed, "a request with the handler is not idle")
        driver.respond(200)
        driver.advance(.seconds(59))
        #expect(!driver.closed, "idle time counts from the response")
        driver.advance(.seconds(2))
        #expect(driver.closed)
        #expect(driver.log.last == "close" && !driver.halfClosed)
    }

    @Test func aNewConnectionThatSendsNothingIsClosedAfterTheIdleTimeout() {
        var driver = Driver { $0.idleTimeout = .seconds(1) }
        driver.advance(.milliseconds(900))
        #expect(!driver.closed)
        driver.advance(.milliseconds(200))
        #expect(driver.closed)
    }

    // MARK: - Draining and failures

    @Test func drainingClosesAnIdleConnectionAndFinishesABusyOne() {
        var idle = Driver()
        idle.event(.drain)
        #expect(idle.closed)
        var busy = Driver()
        busy.receive(Self.get + Self.get)
        busy.event(.drain)
        #expect(!busy.closed)
        busy.respond(200)
        #expect(busy.responses.map { $0.headers["connection"] } == ["close"])
        #expect(busy.closed && !busy.halfClosed && busy.dispatched.count == 1)
    }

    @Test func aSocketErrorClosesAndALateAnswerIsIgnored() {
        var driver = Driver()
        driver.receive(Self.get)
        driver.event(.failed)
        #expect(driver.closed)
        driver.respond(200)
        #expect(driver.sent.isEmpty)
    }

    @Test func aParseErrorIsAnsweredAndCloses() {
        var driver = Driver()
        driver.receive("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(driver.responses.map(\.status) == [400])
        #expect(driver.responses.first?.headers["connection"] == "close")
        #expect(driver.log.first == "completed 400")
    }
}
