import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Secretless clients end to end: keys from `openssl genpkey`, registered with `gatehouse client add
/// --public-key`, used by Authlib's `PrivateKeyJWT` and by a script that sends exactly what Prometheus ≥ 3.9
/// sends for `grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer` (Tests/Clients/secretless_clients.py).
@Suite(.serialized) struct SecretlessClientTests {
    static let script = PluginTestSupport.packageRoot + "/Tests/Clients/secretless_clients.py"
    /// The refusals are the point here; the default limits would answer 429 after ten of them.
    static let config = #"{"rate_limit": {"per_client": {"burst": 1000}, "per_address": {"burst": 1000}, "per_client_total": {"burst": 1000}}}"#

    /// rsa.pem and ed25519.pem (private, PKCS#8) with their public halves, as Docs/secretless-clients.md
    /// makes them.
    private func makeKeys(in directory: String) throws {
        let openssl = "/usr/bin/openssl"
        _ = try runCommand(openssl, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", directory + "/rsa.pem"],
                           mergeErrors: true)
        _ = try runCommand(openssl, ["genpkey", "-algorithm", "ed25519", "-out", directory + "/ed25519.pem"])
        for name in ["rsa", "ed25519"] {
            _ = try runCommand(openssl, ["pkey", "-in", "\(directory)/\(name).pem", "-pubout", "-out", "\(directory)/\(name).pub.pem"])
            guard FileManager.default.fileExists(atPath: "\(directory)/\(name).pub.pem") else { throw TestFailure("openssl made no \(name) key") }
        }
        try "rsa-1".write(toFile: directory + "/rsa.kid", atomically: true, encoding: .utf8)
        try "ed-1".write(toFile: directory + "/ed25519.kid", atomically: true, encoding: .utf8)
    }

    @Test func authlibAndPrometheusShapedClientsGetTokensAndForgeriesDoNot() throws {
        let python = try ClientLibraryTests.pythonWithLibraries()
        let gatehouse = try ServedGatehouse(config: Self.config)
        defer { gatehouse.stop() }
        let keys = gatehouse.directory.path
        try makeKeys(in: keys)
        let added = try gatehouse.cli(["client", "add", "--name", "prometheus", "--id", "prometheus", "--scope", "metrics",
                                       "--public-key", keys + "/rsa.pub.pem", "--key-id", "rsa-1", "--json"])
        #expect(added.contains(#""auth_method": "private_key_jwt""#) && !added.contains("client_secret\":"), "\(added)")
        try gatehouse.cli(["client", "update", "prometheus", "--add-public-key", keys + "/ed25519.pub.pem", "--key-id", "ed-1"])
        let shown = try gatehouse.cli(["client", "show", "prometheus"])
        #expect(shown.contains("auth method: private_key_jwt") && shown.contains("rsa-1 (RS256)") && shown.contains("ed-1 (EdDSA)"), "\(shown)")
        let output = try runCommand(python, [Self.script, gatehouse.url, "prometheus", keys, "all"], mergeErrors: true)
        for line in ["authlib private_key_jwt RS256: ok", "authlib private_key_jwt EdDSA: ok", "prometheus jwt-bearer: ok",
                     "replayed grant: refused invalid_grant", "expired: refused invalid_client", "wrong audience: refused invalid_client",
                     "alg none: refused invalid_client", "HS256 with the public key: refused invalid_client", "all: ok"]
        {
            #expect(output.contains(line), "missing '\(line)' in:\n\(output)\n\(gatehouse.log.suffix(2000))")
        }
    }

    @Test func aKeyRemovedWithTheCLIStopsWorking() throws {
        let python = try ClientLibraryTests.pythonWithLibraries()
        let gatehouse = try ServedGatehouse(config: Self.config)
        defer { gatehouse.stop() }
        let keys = gatehouse.directory.path
        try makeKeys(in: keys)
        try gatehouse.cli(["client", "add", "--name", "rotating", "--id", "rotating", "--scope", "metrics",
                           "--public-key", keys + "/rsa.pub.pem", "--key-id", "rsa-1"])
        try gatehouse.cli(["client", "update", "rotating", "--add-public-key", keys + "/ed25519.pub.pem", "--key-id", "ed-1"])
        let works = try runCommand(python, [Self.script, gatehouse.url, "rotating", keys, "rsa-works"], mergeErrors: true)
        #expect(works.contains("rsa key: ok"), "\(works)")
        let removed = try gatehouse.cli(["client", "update", "rotating", "--remove-key", "rsa-1"])
        #expect(!removed.contains("rsa-1") && removed.contains("ed-1"), "\(removed)")
        // The CLI's store process is not the server's: the server's sqlite-store sees the change within its
        // change poll (500 ms by default) and drops the host's cached record. (A change through the host's
        // own store is refused at once: ClientAssertionTests.)
        var last = ""
        let refused = PluginTestSupport.eventually(timeout: .seconds(3)) {
            last = (try? runCommand(python, [Self.script, gatehouse.url, "rotating", keys, "rsa-refused"], mergeErrors: true)) ?? ""
            return last.contains("rsa key: refused invalid_client")
        }
        #expect(refused, "\(last)")
    }
}
