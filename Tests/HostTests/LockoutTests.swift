import Foundation
import PluginProtocol
import Testing
@testable import Host

/// A stranger who knows a client id must not be able to deny service to the client that holds its secret, while
/// guessing stays limited (Docs/deployment.md, "Failure limits"). Addresses are forged from the trusted loopback
/// peer, as a reverse proxy would report them.
@Suite struct LockoutTests {
    /// The default bursts, with refills slow enough that a loaded machine cannot turn a figure by a token.
    static func slowRefill(_ config: inout HostConfig) {
        config.rateLimits.perClient.refillPerSecond = 0.001
        config.rateLimits.perClientTotal.refillPerSecond = 0.001
        config.rateLimits.perAddress.refillPerSecond = 0.001
    }

    private func token(_ host: TestGatehouse, _ id: String, _ secret: String, from address: String, basic: Bool = true) throws -> Int {
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Forwarded-For", address)]
        var body = "grant_type=client_credentials"
        if basic {
            headers.append(("Authorization", "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()))
        } else {
            body += "&client_id=\(id)&client_secret=\(secret)"
        }
        return try host.request("POST", "/api/v1/oauth/token", headers: headers, body: body).status
    }

    /// The attack from the review: 10 wrong guesses, then more from other addresses, kept the real secret at 429.
    @Test func guessesFromElsewhereDoNotLockOutTheRealClient() async throws {
        let host = try TestGatehouse(configure: Self.slowRefill)
        defer { host.stop() }
        try await host.addClient("victim")
        #expect(try token(host, "victim", StoreFixtures.secret, from: "203.0.113.10") == 200, "the client's usual host")
        var statuses: [Int] = []
        for guess in 0..<12 { statuses.append(try token(host, "victim", "guess-\(guess)", from: "198.51.100.1")) }
        #expect(statuses == Array(repeating: 401, count: 10) + [429, 429], "a guesser gets 10 tries, then waits")
        #expect(try token(host, "victim", StoreFixtures.secret, from: "203.0.113.10") == 200)
        // Then from many addresses, until the client's ceiling (100) is spent.
        var limitedStrangers = 0
        for address in 2...15 {
            for guess in 0..<9 where try token(host, "victim", "g\(address)-\(guess)", from: "198.51.100.\(address)") == 429 {
                limitedStrangers += 1
            }
        }
        #expect(limitedStrangers > 0, "the ceiling stops guessing spread over addresses")
        #expect(try token(host, "victim", "one-more", from: "198.51.100.200") == 429)
        #expect(try token(host, "victim", StoreFixtures.secret, from: "203.0.113.10") == 200,
                "the client's own host keeps getting tokens")
        // What an attacker can still do (documented): a host the client never used waits for the ceiling.
        #expect(try token(host, "victim", StoreFixtures.secret, from: "203.0.113.99") == 429)
        #expect(host.sink.records.contains { $0.contains(#""oauth.reason":"rate_limited_client""#) })
    }

    /// Alternating Basic and `client_secret_post` got 19 guesses out of a budget of 10.
    @Test func alternatingMethodsCountsEveryGuess() async throws {
        let host = try TestGatehouse(configure: Self.slowRefill)
        defer { host.stop() }
        try await host.addClient("victim")
        var guesses = 0
        for guess in 0..<30 {
            let status = try token(host, "victim", "guess-\(guess)", from: "198.51.100.1", basic: guess % 2 == 0)
            if status == 429 { break }
            #expect(status == 401)
            guesses += 1
        }
        #expect(guesses == 10)
    }

    /// Go's x/oauth2 tries Basic, then the same secret in the body: one attempt, so a misconfigured Prometheus
    /// retrying every scrape does not use its budget twice as fast.
    @Test func theSameSecretRetriedWithTheOtherMethodCountsOnce() async throws {
        let host = try TestGatehouse(configure: Self.slowRefill)
        defer { host.stop() }
        try await host.addClient("prom")
        for attempt in 0..<9 {
            #expect(try token(host, "prom", "old-secret-\(attempt)", from: "192.0.2.5", basic: true) == 401)
            #expect(try token(host, "prom", "old-secret-\(attempt)", from: "192.0.2.5", basic: false) == 401)
        }
        #expect(try token(host, "prom", "old-secret-9", from: "192.0.2.5") == 401, "18 requests, 9 attempts: one left")
        #expect(try token(host, "prom", "old-secret-x", from: "192.0.2.5") == 429)
    }
}
