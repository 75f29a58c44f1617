import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// What brings a Prometheus target back after Gatehouse voided the token Prometheus holds (prometheus.md §4).
/// Disabling a client voids every token issued so far (the store sets `notBefore`), so re-enabling it does not
/// revive them, and Prometheus does not fetch a new token on a 401: these tests pin down what does work.
@Suite(.serialized) struct PrometheusRecoveryTests {
    typealias PrometheusServer = PrometheusTests.PrometheusServer

    /// Up, then disabled (down with 401), then re-enabled: still down while Prometheus keeps the voided token.
    private func voidedAndReEnabled(ttl: Int? = nil) throws -> (ServedGatehouse, (id: String, secret: String), PrometheusServer) {
        let gatehouse = try ServedGatehouse()
        let client = try gatehouse.addClient(name: "prometheus", extra: ttl.map { ["--ttl", "\($0)"] } ?? [])
        let prometheus = try PrometheusServer(gatehouse: gatehouse, clientID: client.id, secret: client.secret)
        #expect(prometheus.waitFor("up").reached)
        try gatehouse.cli(["client", "disable", client.id])
        let down = prometheus.waitFor("down", timeout: .seconds(10))
        #expect(down.reached && down.error.contains("401"), "\(down.error)")
        try gatehouse.cli(["client", "enable", client.id])
        return (gatehouse, client, prometheus)
    }

    /// Stays down for `seconds` (scrapes every second): the state does not fix itself.
    private func staysDown(_ prometheus: PrometheusServer, seconds: Int) -> Bool {
        !PluginTestSupport.eventually(timeout: .seconds(seconds)) { prometheus.target().health == "up" }
    }

    @Test func reEnablingAloneOrAReloadKeepsTheTargetDownARestartBringsItBack() throws {
        let (gatehouse, _, prometheus) = try voidedAndReEnabled()
        defer { gatehouse.stop() }
        #expect(staysDown(prometheus, seconds: 4), "re-enabling revived the voided token")
        // A reload with an unchanged config keeps the scrape pool and its token.
        prometheus.reload()
        #expect(staysDown(prometheus, seconds: 4), "a reload made Prometheus fetch a new token")
        try prometheus.restart()
        let up = prometheus.waitFor("up")
        #expect(up.reached, "a restart did not bring the target back: \(up.error)")
    }

    /// Prometheus re-reads `client_secret_file` on each scrape and fetches a new token when its content changed:
    /// rotating the secret and writing the new one to the file is a fix without touching Prometheus.
    @Test func aNewSecretInTheSecretFileBringsTheTargetBackWithoutARestart() throws {
        let (gatehouse, client, prometheus) = try voidedAndReEnabled()
        defer { gatehouse.stop() }
        let rotated = try JSONParser.parse(try gatehouse.cli(["client", "rotate-secret", client.id, "--json"]))
        let secret = try #require(rotated["client_secret"]?.stringValue, "\(rotated)")
        try secret.write(toFile: prometheus.secretFile, atomically: true, encoding: .utf8)
        let up = prometheus.waitFor("up", timeout: .seconds(10))
        #expect(up.reached, "the new secret file was not used: \(up.error)")
    }

    /// Or wait: a voided token expires, and Prometheus (Go's x/oauth2) fetches a new one 10 s before expiry.
    @Test func theTargetComesBackByItselfWhenTheVoidedTokenExpires() throws {
        let (gatehouse, _, prometheus) = try voidedAndReEnabled(ttl: 15)
        defer { gatehouse.stop() }
        let up = prometheus.waitFor("up", timeout: .seconds(20))
        #expect(up.reached, "the target did not recover after the token lifetime: \(up.error)")
    }
}
