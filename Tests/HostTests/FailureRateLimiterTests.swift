import Foundation
import PluginProtocol
import Testing
@testable import Host

@Suite struct FailureRateLimiterTests {
    private func at(_ seconds: Double) -> MonotonicTime { MonotonicTime(nanoseconds: UInt64(1e12 + seconds * 1e9)) }

    private func limiter() -> FailureRateLimiter {
        FailureRateLimiter(perClient: .init(burst: 3, refillPerSecond: 0.5), perAddress: .init(burst: 5, refillPerSecond: 1))
    }

    @Test func aClientIsLimitedAfterItsBurstAndRecovers() {
        let limiter = limiter()
        for attempt in 0..<3 {
            #expect(limiter.check(clientID: "c", address: "a", now: at(Double(attempt) * 0.1)) == .allowed)
            limiter.recordFailure(clientID: "c", address: "a", method: "basic", now: at(Double(attempt) * 0.1))
        }
        // 3 failures in 0.2 s leave 0.1 token; one whole token is 1.8 s away, announced as 2.
        #expect(limiter.check(clientID: "c", address: "b", now: at(0.2)) == .limited(scope: "client", retryAfter: 2))
        #expect(limiter.check(clientID: "other", address: "b", now: at(0.2)) == .allowed)
        #expect(limiter.check(clientID: "c", address: "b", now: at(2.1)) == .allowed, "one token back after 2 s")
    }

    @Test func anAddressIsLimitedAcrossClientIDs() {
        let limiter = limiter()
        for index in 0..<5 { limiter.recordFailure(clientID: "id\(index)", address: "attacker", method: "basic", now: at(0)) }
        #expect(limiter.check(clientID: "fresh", address: "attacker", now: at(0.1)) == .limited(scope: "address", retryAfter: 1))
        #expect(limiter.check(clientID: "fresh", address: "someone-else", now: at(0.1)) == .allowed)
    }

    @Test func theOAuth2AutoDetectRetryCountsOnce() {
        let limiter = limiter()
        for round in 0..<3 {
            // Basic fails, then the same attempt with body credentials, within the retry window.
            limiter.recordFailure(clientID: "prom", address: "a", method: "client_secret_basic", now: at(Double(round) * 0.1))
            limiter.recordFailure(clientID: "prom", address: "a", method: "client_secret_post", now: at(Double(round) * 0.1 + 0.01))
        }
        // Six failed requests, three attempts: the client bucket (burst 3) is just empty, not more.
        guard case .limited = limiter.check(clientID: "prom", address: "a", now: at(0.5)) else {
            Issue.record("three attempts should empty a burst of three")
            return
        }
        #expect(limiter.check(clientID: "prom", address: "a", now: at(2.6)) == .allowed)
    }

    @Test func zeroBurstTurnsALimitOff() {
        let limiter = FailureRateLimiter(perClient: .init(burst: 0, refillPerSecond: 0), perAddress: .init(burst: 0, refillPerSecond: 0))
        for _ in 0..<100 { limiter.recordFailure(clientID: "c", address: "a", method: "basic", now: at(0)) }
        #expect(limiter.check(clientID: "c", address: "a", now: at(0)) == .allowed)
    }

    @Test func memoryStaysBounded() {
        let limiter = FailureRateLimiter(perClient: .init(burst: 2, refillPerSecond: 1), perAddress: .init(burst: 2, refillPerSecond: 1),
                                         maxEntries: 100)
        for index in 0..<10_000 {
            limiter.recordFailure(clientID: "id\(index)", address: "addr\(index)", method: "basic", now: at(0))
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
        for _ in 0..<6 { statuses.append(try host.tokenRequest(id: "victim", secret: StoreFixtures.otherSecret).status) }
        #expect(statuses == [401, 401, 401, 401, 429, 429])
        let limited = try host.tokenRequest(id: "victim", secret: StoreFixtures.secret)
        #expect(limited.status == 429 && limited.headers["retry-after"].flatMap(Int.init).map { $0 > 0 } == true)
        #expect(limited.json["error"] == "temporarily_unavailable")
        #expect(host.sink.records.contains { $0.contains(#""oauth.reason":"rate_limited_client""#) })
        let metrics = try host.request("GET", "/api/v1/status")
        #expect(metrics.status == 200)
    }
}
