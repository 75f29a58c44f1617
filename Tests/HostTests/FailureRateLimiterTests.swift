import Foundation
import PluginProtocol
import Testing
@testable import Host

@Suite struct FailureRateLimiterTests {
    private func at(_ seconds: Double) -> MonotonicTime { MonotonicTime(nanoseconds: UInt64(1e12 + seconds * 1e9)) }

    private func limiter(perClient: Double = 20) -> FailureRateLimiter {
        FailureRateLimiter(perAddress: .init(burst: 5, refillPerSecond: 1), perClientAddress: .init(burst: 3, refillPerSecond: 0.5),
                           perClient: .init(burst: perClient, refillPerSecond: 0.1))
    }

    private func fail(_ limiter: FailureRateLimiter, _ client: String, _ address: String, _ secret: String = UUID().uuidString, at time: Double) {
        limiter.recordFailure(clientID: client, address: address, secret: secret, now: at(time))
    }

    private func scope(_ verdict: FailureRateLimiter.Verdict) -> String? {
        if case .limited(let scope, _) = verdict { return scope }
        return nil
    }

    @Test func aGuesserIsLimitedAfterItsBurstAndRecovers() {
        let limiter = limiter()
        for attempt in 0..<3 {
            #expect(limiter.check(clientID: "c", address: "a", now: at(Double(attempt) * 0.1)) == .allowed)
            fail(limiter, "c", "a", at: Double(attempt) * 0.1)
        }
        // 3 failures in 0.2 s leave 0.1 token; one whole token is 1.8 s away, announced as 2.
        #expect(limiter.check(clientID: "c", address: "a", now: at(0.2)) == .limited(scope: "client_address", retryAfter: 2))
        #expect(limiter.check(clientID: "c", address: "a", now: at(2.1)) == .allowed, "one token back after 2 s")
    }

    @Test func aStrangerDoesNotLockTheClientOutOfOtherAddresses() {
        let limiter = limiter()
        for attempt in 0..<10 { fail(limiter, "victim", "attacker", at: Double(attempt) * 0.01) }
        #expect(limiter.check(clientID: "victim", address: "attacker", now: at(0.5)) != .allowed)
        #expect(limiter.check(clientID: "victim", address: "client-host", now: at(0.5)) == .allowed)
        #expect(limiter.check(clientID: "other", address: "someone-else", now: at(0.5)) == .allowed)
    }

    @Test func anAddressIsLimitedAcrossClientIDs() {
        let limiter = limiter()
        for index in 0..<5 { fail(limiter, "id\(index)", "attacker", at: 0) }
        #expect(limiter.check(clientID: "fresh", address: "attacker", now: at(0.1)) == .limited(scope: "address", retryAfter: 1))
        #expect(limiter.check(clientID: "fresh", address: "someone-else", now: at(0.1)) == .allowed)
    }

    @Test func guessesSpreadOverManyAddressesHitTheClientCeilingButNotTheClientsOwnAddresses() {
        let limiter = limiter(perClient: 20)
        limiter.recordSuccess(clientID: "victim", address: "client-host", now: at(0))
        for address in 0..<10 {
            for guess in 0..<2 { fail(limiter, "victim", "bot\(address)", at: 1 + Double(address * 2 + guess) * 0.01) }
        }
        // 20 guesses from 10 addresses: each address is within its own limits, the client's ceiling is empty.
        #expect(scope(limiter.check(clientID: "victim", address: "bot10", now: at(1.5))) == "client")
        #expect(limiter.check(clientID: "victim", address: "client-host", now: at(1.5)) == .allowed,
                "an address the client authenticated from goes on to the store")
        #expect(limiter.check(clientID: "victim", address: "new-host", now: at(1.5)) != .allowed,
                "an address the client never used waits, as documented")
        // Remembered for a day, not for ever.
        #expect(limiter.check(clientID: "victim", address: "client-host", now: at(86_401)) == .allowed)
        for guess in 0..<20 { fail(limiter, "victim", "bot\(guess)", at: 86_401 + Double(guess) * 0.01) }
        #expect(limiter.check(clientID: "victim", address: "client-host", now: at(86_401.5)) != .allowed)
    }

    @Test func aRetryOfTheSameSecretCountsOnceAndAlternatingMethodsBuysNothing() {
        let limiter = limiter()
        for round in 0..<3 {
            // x/oauth2: Basic fails, then the same secret in the body within the retry window.
            fail(limiter, "prom", "a", "secret-\(round)", at: Double(round) * 0.1)
            fail(limiter, "prom", "a", "secret-\(round)", at: Double(round) * 0.1 + 0.01)
        }
        guard case .limited = limiter.check(clientID: "prom", address: "a", now: at(0.5)) else {
            Issue.record("three attempts should empty a burst of three")
            return
        }
        // A guesser alternating methods sends a new secret each time: every one counts.
        let guesser = self.limiter()
        var allowed = 0
        for guess in 0..<10 where guesser.check(clientID: "c", address: "g", now: at(Double(guess) * 0.01)) == .allowed {
            allowed += 1
            fail(guesser, "c", "g", "guess-\(guess)", at: Double(guess) * 0.01)
        }
        #expect(allowed == 3, "a burst of three allows three guesses, not six")
        // Each retry is forgiven once: sending the same secret over and over counts every other request.
        let repeater = self.limiter()
        for _ in 0..<4 { fail(repeater, "c", "r", "same", at: 0) }
        #expect(repeater.check(clientID: "c", address: "r", now: at(0)) == .allowed, "two counted of four")
        fail(repeater, "c", "r", "same", at: 0)
        #expect(repeater.check(clientID: "c", address: "r", now: at(0)) != .allowed)
    }

    @Test func ipv6AddressesAreLimitedByTheirSlash64() {
        #expect(FailureRateLimiter.addressKey("2001:db8:1:2:aaaa::1") == FailureRateLimiter.addressKey("2001:db8:1:2:ffff:1:2:3"))
        #expect(FailureRateLimiter.addressKey("2001:db8:1:2::1") != FailureRateLimiter.addressKey("2001:db8:1:3::1"))
        #expect(FailureRateLimiter.addressKey("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(FailureRateLimiter.addressKey("192.0.2.7") == "192.0.2.7")
        let limiter = limiter()
        for index in 0..<5 { fail(limiter, "id\(index)", "2001:db8:1:2::\(index + 1)", at: 0) }
        #expect(limiter.check(clientID: "fresh", address: "2001:db8:1:2::99", now: at(0.1)) == .limited(scope: "address", retryAfter: 1))
    }

    @Test func zeroBurstTurnsALimitOff() {
        let off = FailureRateLimiter.Limits(burst: 0, refillPerSecond: 0)
        let limiter = FailureRateLimiter(perAddress: off, perClientAddress: off, perClient: off)
        for _ in 0..<100 { fail(limiter, "c", "a", at: 0) }
        #expect(limiter.check(clientID: "c", address: "a", now: at(0)) == .allowed)
    }

    @Test func memoryStaysBounded() {
        let limits = FailureRateLimiter.Limits(burst: 2, refillPerSecond: 1)
        let limiter = FailureRateLimiter(perAddress: limits, perClientAddress: limits, perClient: limits, maxEntries: 100)
        for index in 0..<10_000 {
            fail(limiter, "id\(index)", "addr\(index)", at: 0)
            limiter.recordSuccess(clientID: "id\(index)", address: "addr\(index)", now: at(0))
        }
        #expect(limiter.check(clientID: "id9999", address: "x", now: at(0)) == .allowed, "bounded tables fail open")
    }

    @Test func bruteForceOverHTTPGets429AndSuccessesAreNotCounted() async throws {
        let host = try TestGatehouse { config in
            config.rateLimits.perClient = .init(burst: 4, refillPerSecond: 0.01)
            config.rateLimits.perAddress = .init(burst: 100, refillPerSecond: 1)
        }
        defer { host.stop() }
        try await host.addClient("victim")
        for _ in 0..<10 { #expect(try host.tokenRequest(id: "victim", secret: StoreFixtures.secret).status == 200) }
        var statuses: [Int] = []
        for guess in 0..<6 { statuses.append(try host.tokenRequest(id: "victim", secret: StoreFixtures.otherSecret + "\(guess)").status) }
        #expect(statuses == [401, 401, 401, 401, 429, 429])
        let limited = try host.tokenRequest(id: "victim", secret: StoreFixtures.secret)
        #expect(limited.status == 429 && limited.headers["retry-after"].flatMap(Int.init).map { $0 > 0 } == true,
                "the guessing address is refused even with the right secret")
        #expect(limited.json["error"] == "temporarily_unavailable")
        #expect(host.sink.records.contains { $0.contains(#""oauth.reason":"rate_limited_client_address""#) })
    }
}
