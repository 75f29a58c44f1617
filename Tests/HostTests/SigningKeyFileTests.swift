import Foundation
import Testing
@testable import Host

/// A lost signing-key file voids every live token; the host must never do that silently.
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

    @Test func aStartWithoutTheFileOfADataDirectoryInUseSaysWhatItCosts() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        #expect(!lossReported(host, "signing key file was missing"), "a first start creates keys quietly")
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        try FileManager.default.removeItem(atPath: SigningKeyRing.path(in: host.directory.path + "/data"))
        try host.restart()
        #expect(lossReported(host, "signing key file was missing"))
        #expect(try host.metrics(token: token).status == 401, "the new keys do not verify the old token")
    }
}
