import Foundation
import JOSE
import Testing
@testable import Host

/// A lost signing-key file costs the host its private keys; it must never replace them silently.
@Suite struct SigningKeyFileTests {
    private func lossReported(_ host: TestGatehouse, _ message: String) -> Bool {
        host.sink.objects.contains { record in
            record["level"] == "error" && (record["msg"]?.stringValue ?? "").contains(message)
                && record["tokens.key_file"]?.stringValue == SigningKeyRing.path(in: host.directory.path + "/data")
        }
    }

    @Test func aFileDeletedUnderARunningHostIsReportedAndItsKeysKept() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        try FileManager.default.removeItem(atPath: SigningKeyRing.path(in: host.directory.path + "/data"))
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { lossReported(host, "signing key file was deleted") })
        // The keys in use stay: live tokens keep working, and new ones verify too.
        #expect(try host.metrics(token: token).status == 200)
        #expect(try host.metrics(token: try host.token(id: "prom")).status == 200)
    }

    /// The new keys cannot verify the old tokens, but an asymmetric key's public half is still published in the
    /// store, so its tokens keep verifying until they expire, here as on every host that shares the store. HS256
    /// keys are never published: their tokens are refused.
    @Test(arguments: [SignatureAlgorithm.rs256, .hs256])
    func aStartWithoutTheFileOfADataDirectoryInUseSaysWhatItCosts(_ algorithm: SignatureAlgorithm) async throws {
        let configure: (inout HostConfig) -> Void = { $0.signingAlgorithm = algorithm }
        let host = try TestGatehouse(configure: configure)
        defer { host.stop() }
        #expect(!lossReported(host, "signing key file was missing"), "a first start creates keys quietly")
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        try FileManager.default.removeItem(atPath: SigningKeyRing.path(in: host.directory.path + "/data"))
        try host.restart(configure: configure)
        #expect(lossReported(host, "signing key file was missing"))
        #expect(try host.metrics(token: token).status == (algorithm.isAsymmetric ? 200 : 401))
        #expect(try host.metrics(token: try host.token(id: "prom")).status == 200, "the new keys sign and verify")
    }
}
