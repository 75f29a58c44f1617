import Dispatch
import Foundation
import Glibc
import JOSE
import PluginProtocol
import Synchronization
import Testing
@testable import Host

/// Clients registered with `--jwks-uri`, end to end: the served `gatehouse` binary fetches their keys from a
/// real key server on loopback (`KeyServer`, Python's `http.server`), and curl asks for tokens.
@Suite(.serialized) struct JWKSetURLTests {
    /// Refusals are the point here (the default limits would answer 429 after ten); a short cache floor and
    /// refresh interval keep the waits short.
    static let config = """
        {"rate_limit": {"per_client": {"burst": 1000}, "per_address": {"burst": 1000}, "per_client_total": {"burst": 1000}},
         "client_assertions": {"jwks_min_cache_seconds": 1, "jwks_refresh_interval_seconds": 2}}
        """
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    struct Answer {
        var status: Int
        var body: String
        var seconds: Double
        var error: String? { (try? JSONParser.parse(body))?["error"]?.stringValue }
    }

    static func signer(_ algorithm: SignatureAlgorithm, _ kid: String) throws -> ClientAssertionTests.Signer {
        ClientAssertionTests.Signer(key: try AsymmetricKey.generate(algorithm), kid: kid)
    }

    /// `private_key_jwt` at the token endpoint, with curl.
    static func token(_ gatehouse: ServedGatehouse, _ client: String, _ signer: ClientAssertionTests.Signer) throws -> Answer {
        try token(base: gatehouse.url, client, signer)
    }

    static func token(base: String, _ client: String, _ signer: ClientAssertionTests.Signer) throws -> Answer {
        let tokenURL = base + "/api/v1/oauth/token"
        let assertion = try signer.assertion(client) { $0["aud"] = .string(tokenURL) }
        return try curl(["-d", "grant_type=client_credentials", "--data-urlencode", "client_assertion_type=\(assertionType)",
                         "--data-urlencode", "client_assertion=\(assertion)", tokenURL])
    }

    static func curl(_ arguments: [String]) throws -> Answer {
        let start = MonotonicTime.now()
        let output = try runCommand("/usr/bin/curl", ["-s", "-m", "20", "-w", "\n%{http_code}"] + arguments)
        let seconds = Double(MonotonicTime.now().since(start).components.seconds)
            + Double(MonotonicTime.now().since(start).components.attoseconds) / 1e18
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return Answer(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"), seconds: seconds)
    }

    static func addClient(_ gatehouse: ServedGatehouse, _ id: String, url: String) throws {
        let added = try gatehouse.cli(["client", "add", "--name", id, "--id", id, "--scope", "metrics", "--jwks-uri", url, "--json"])
        #expect(added.contains(#""jwks_uri": "\#(url)""#) && added.contains(#""auth_method": "private_key_jwt""#), "\(added)")
    }

    @Test func rs256AndEd25519AssertionsWorkAndANewKidIsFetchedAtMostOncePerInterval() throws {
        let server = try KeyServer()
        let (rsa, ed) = (try Self.signer(.rs256, "rsa-1"), try Self.signer(.edDSA, "ed-1"))
        try server.serve([rsa, ed], maxAge: 3600)
        let gatehouse = try ServedGatehouse(config: Self.config)
        defer { gatehouse.stop() }
        try Self.addClient(gatehouse, "at-url", url: server.url("/jwks.json"))

        for signer in [rsa, ed] {
            let answer = try Self.token(gatehouse, "at-url", signer)
            #expect(answer.status == 200, "\(signer.kid): \(answer.body)\n\(gatehouse.log.suffix(1500))")
        }
        #expect(try server.count("/jwks.json") == 1, "one fetch serves both keys")

        // Rotation at the URL: the new kid is unknown, so the host fetches again (once the interval allows).
        let next = try Self.signer(.edDSA, "ed-2")
        try server.serve([rsa, ed, next], maxAge: 3600)
        Thread.sleep(forTimeInterval: 2.2)
        let rotated = try Self.token(gatehouse, "at-url", next)
        #expect(rotated.status == 200, "\(rotated.body)")
        #expect(try server.count("/jwks.json") == 2)

        // A stranger sending random kids: each is refused, and the URL is fetched at most once per interval.
        let start = MonotonicTime.now()
        for _ in 0..<30 {
            let random = ClientAssertionTests.Signer(key: ed.key, kid: "random-\(UInt32.random(in: 0...UInt32.max))")
            let answer = try Self.token(gatehouse, "at-url", random)
            #expect(answer.status == 401 && answer.error == "invalid_client", "\(answer.body)")
        }
        let elapsed = Double(MonotonicTime.now().since(start).components.seconds)
        let extra = try server.count("/jwks.json") - 2
        #expect(extra <= Int(elapsed / 2) + 1, "\(extra) fetches for 30 unknown kids in \(elapsed) s")
        // Keys the host knows are served from its cache meanwhile.
        #expect(try Self.token(gatehouse, "at-url", rsa).status == 200)
    }

    @Test func aKeyRemovedAtTheURLStopsWorkingAfterTheRefreshAndAFailedRefreshKeepsTheLastGoodSet() throws {
        let server = try KeyServer()
        let (rsa, ed) = (try Self.signer(.rs256, "rsa-1"), try Self.signer(.edDSA, "ed-1"))
        try server.serve([rsa, ed], maxAge: 1)
        let gatehouse = try ServedGatehouse(config: Self.config)
        defer { gatehouse.stop() }
        try Self.addClient(gatehouse, "removing", url: server.url("/jwks.json"))
        #expect(try Self.token(gatehouse, "removing", rsa).status == 200)

        try server.serve([ed], maxAge: 1)
        var last = Answer(status: 0, body: "", seconds: 0)
        let refused = PluginTestSupport.eventually(timeout: .seconds(10)) {
            last = (try? Self.token(gatehouse, "removing", rsa)) ?? last
            if last.status != 401 { Thread.sleep(forTimeInterval: 0.3) }
            return last.status == 401
        }
        #expect(refused && last.error == "invalid_client", "\(last.body)")
        #expect(try Self.token(gatehouse, "removing", ed).status == 200)

        // The key server goes down: once the set has expired, the refresh fails, and the last good set serves.
        server.breakKeys()
        let before = try server.count("/jwks.json")
        Thread.sleep(forTimeInterval: 2.5)
        let stale = try Self.token(gatehouse, "removing", ed)
        #expect(stale.status == 200, "\(stale.body)\n\(gatehouse.log.suffix(1500))")
        #expect(try server.count("/jwks.json") > before, "a refresh was tried")
        #expect(gatehouse.log.contains("cannot fetch a client's JWK Set") && gatehouse.log.contains("HTTP status 500"))
    }

    @Test func brokenKeyServersAreInvalidClientAndHoldUpNoOtherRequest() throws {
        let server = try KeyServer()
        let ed = try Self.signer(.edDSA, "ed-1")
        try server.serve([ed], maxAge: 60)
        let gatehouse = try ServedGatehouse(config: Self.config)
        defer { gatehouse.stop() }
        let paths = ["/hang", "/error", "/big", "/garbage", "/redirect"]
        for path in paths { try Self.addClient(gatehouse, "broken" + path.replacingOccurrences(of: "/", with: "-"), url: server.url(path)) }
        let secretClient = try gatehouse.addClient(name: "with-secret")

        // The hanging fetch runs while a client-secret request (and a broken-URL request) are served.
        final class Slot: Sendable { let answer = Mutex<Answer?>(nil) }
        let hung = Slot()
        let done = DispatchSemaphore(value: 0)
        let base = gatehouse.url
        Thread {
            let answer = try? Self.token(base: base, "broken-hang", ed)
            hung.answer.withLock { $0 = answer }
            done.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.5)
        let secret = try Self.curl(["-u", "\(secretClient.id):\(secretClient.secret)", "-d", "grant_type=client_credentials",
                                    gatehouse.url + "/api/v1/oauth/token"])
        #expect(secret.status == 200 && secret.seconds < 1.5, "a client secret waited \(secret.seconds) s: \(secret.body)")
        #expect(hung.answer.withLock { $0 } == nil, "the hanging fetch was still under way")
        #expect(done.wait(timeout: .now() + 15) == .success)
        let answer = try #require(hung.answer.withLock { $0 })
        #expect(answer.status == 401 && answer.error == "invalid_client", "\(answer.body)")
        #expect(answer.seconds >= 2.5 && answer.seconds < 8, "bounded by the 3 s fetch timeout: \(answer.seconds) s")

        for path in paths.dropFirst() {
            let refused = try Self.token(gatehouse, "broken" + path.replacingOccurrences(of: "/", with: "-"), ed)
            #expect(refused.status == 401 && refused.error == "invalid_client", "\(path): \(refused.status) \(refused.body)")
        }
        let log = gatehouse.log
        for reason in ["HTTP status 500", "larger than 65536 bytes", "not a JWK Set", "redirects are not followed", "jwks_unavailable"] {
            #expect(log.contains(reason), "no '\(reason)' in the log:\n\(log.suffix(3000))")
        }
        #expect(try server.count("/jwks.json") == 0, "the redirect was not followed")
        let failed = try gatehouse.metric(#"gatehouse_jwks_fetches_total{outcome="failed"}"#, as: secretClient)
        #expect(failed == 5, "one failed fetch per broken URL: \(String(describing: failed))")
    }

    @Test func httpsIsVerifiedAgainstTheSystemTrustStore() throws {
        guard getuid() == 0 else { throw TestFailure("this test needs root (a private mount namespace), as CI has") }
        let server = try KeyServer(tls: true)
        let ed = try Self.signer(.edDSA, "ed-1")
        try server.serve([ed], maxAge: 60)
        let certificate = try #require(server.certificate)
        // What `update-ca-certificates` does for an operator's private CA, inside a mount namespace of the
        // host alone: the system bundle with the test's certificate added.
        let bundle = server.directory.path + "/ca-certificates.crt"
        let system = (try? String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)) ?? ""
        try (system + "\n" + (try String(contentsOfFile: certificate, encoding: .utf8))).write(toFile: bundle, atomically: true, encoding: .utf8)
        let trusting = try ServedGatehouse(config: Self.config, launcher: [
            "/usr/bin/unshare", "--mount", "/bin/sh", "-c", #"mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@""#, bundle])
        defer { trusting.stop() }
        try Self.addClient(trusting, "tls", url: server.url("/jwks.json"))
        let trusted = try Self.token(trusting, "tls", ed)
        #expect(trusted.status == 200, "\(trusted.body)\n\(trusting.log.suffix(1500))")

        // Without it the certificate is refused; the environment variables that name a CA file elsewhere
        // (URLSession's, which it reads only on Android, OpenSSL's, curl's tool's) change nothing here.
        let untrusting = try ServedGatehouse(config: Self.config, launcher: [
            "/usr/bin/env", "URLSessionCertificateAuthorityInfoFile=\(certificate)", "SSL_CERT_FILE=\(certificate)", "CURL_CA_BUNDLE=\(certificate)"])
        defer { untrusting.stop() }
        try Self.addClient(untrusting, "tls", url: server.url("/jwks.json"))
        let refused = try Self.token(untrusting, "tls", ed)
        #expect(refused.status == 401 && refused.error == "invalid_client", "\(refused.body)")
        #expect(untrusting.log.contains("transfer failed"), "\(untrusting.log.suffix(1500))")
    }
}
