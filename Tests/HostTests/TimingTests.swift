import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Response times must not tell an attacker whether a client id exists.
@Suite(.serialized) struct TimingTests {
    @Test func unknownClientAndWrongSecretTakeTheSameTime() async throws {
        let host = try TestGatehouse { config in
            config.rateLimits.perClient = .init(burst: 0, refillPerSecond: 0)
            config.rateLimits.perAddress = .init(burst: 0, refillPerSecond: 0)
            config.rateLimits.perClientTotal = .init(burst: 0, refillPerSecond: 0)
            config.accessLog = false
        }
        defer { host.stop() }
        try await host.addClient("real-client-0001")
        let client = try RawHTTPClient(port: host.port)
        func request(_ id: String) -> String {
            let basic = Data("\(id):\(StoreFixtures.otherSecret)".utf8).base64EncodedString()
            let body = "grant_type=client_credentials"
            return "POST /api/v1/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Authorization: Basic \(basic)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let wrongSecret = request("real-client-0001")
        let unknown = request("fake-client-0001")  // Same length, so the only difference is whether it exists.
        /// The low end (10th percentile) of each kind's response times: other work on the machine only ever adds
        /// time, so the low end moves least when the rest of the suite runs beside this test (the median moved by
        /// ~50 µs under the soak test's load), while a real difference in work shifts every percentile alike.
        func measure() -> (wrong: Double, missing: Double) {
            var samples: [String: [Double]] = ["wrong": [], "unknown": []]
            for round in 0..<600 {
                // Interleave, alternating which goes first, so drift and noise hit both alike.
                for (label, text) in round % 2 == 0 ? [("wrong", wrongSecret), ("unknown", unknown)] : [("unknown", unknown), ("wrong", wrongSecret)] {
                    let start = MonotonicTime.now()
                    client.send(text)
                    let response = client.readResponses(1)
                    let elapsed = Double(MonotonicTime.now().since(start).nanosecondsClamped) / 1000
                    #expect(response.first?.status == 401)
                    if round >= 50 { samples[label]!.append(elapsed) }  // The first rounds warm caches.
                }
            }
            func lowEnd(_ values: [Double]) -> Double { values.sorted()[values.count / 10] }
            return (lowEnd(samples["wrong"]!), lowEnd(samples["unknown"]!))
        }
        // Interleaved figures of 550 samples agree to about 1 µs here. Skipping the verifier work for unknown ids
        // (tried on purpose) opened a 60 µs gap; allow 5% or 15 µs, whichever is larger. A real leak is there on
        // every measurement: one more try is allowed before calling it one.
        func withinTolerance(_ figures: (wrong: Double, missing: Double)) -> Bool {
            abs(figures.wrong - figures.missing) < max(0.05 * max(figures.wrong, figures.missing), 15)
        }
        var figures = measure()
        if !withinTolerance(figures) { figures = measure() }
        #expect(withinTolerance(figures), "10th percentile: wrong secret \(figures.wrong) µs vs unknown client \(figures.missing) µs")
    }
}
