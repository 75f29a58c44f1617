import Foundation
import Glibc
import JOSE
import PluginProtocol
@testable import Host

/// A client's key server on loopback (Tests/Clients/jwks_server.py, Python's `http.server`, optionally
/// wrapped in `ssl`): serves the JWK Set a test writes, misbehaves on purpose on other paths, and counts
/// the requests it gets.
final class KeyServer {
    static let script = PluginTestSupport.packageRoot + "/Tests/Clients/jwks_server.py"
    let directory = TemporaryDirectory()
    let port: Int
    let scheme: String
    /// The certificate the server presents (self-signed, for 127.0.0.1), when it speaks TLS.
    let certificate: String?
    private let process = Process()

    init(tls: Bool = false) throws {
        scheme = tls ? "https" : "http"
        var arguments = [Self.script, directory.path]
        if tls {
            let cert = directory.path + "/cert.pem", key = directory.path + "/key.pem"
            _ = try runCommand("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                                                    "-addext", "subjectAltName=IP:127.0.0.1"], mergeErrors: true)
            guard FileManager.default.fileExists(atPath: cert) else { throw TestFailure("openssl made no certificate") }
            arguments += ["--tls", cert, key]
            certificate = cert
        } else {
            certificate = nil
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let portFile = directory.path + "/port"
        guard PluginTestSupport.eventually(timeout: .seconds(10), { FileManager.default.fileExists(atPath: portFile) }),
              let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text)
        else { throw TestFailure("the key server did not start") }
        self.port = port
    }

    func url(_ path: String) -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    /// Serves these keys at /jwks.json from now on, with `Cache-Control: max-age` if given.
    func serve(_ signers: [ClientAssertionTests.Signer], maxAge: Int?) throws {
        let keys: [JSONValue] = signers.map { signer in
            var members = signer.info.jwk.mapValues { JSONValue.string($0) }
            members["kid"] = .string(signer.kid)
            members["alg"] = .string(signer.key.algorithm.rawValue)
            members["use"] = "sig"
            return .object(members)
        }
        try JSONWriter.string(["keys": .array(keys)]).write(toFile: directory.path + "/jwks.json", atomically: true, encoding: .utf8)
        let agePath = directory.path + "/max-age"
        if let maxAge { try String(maxAge).write(toFile: agePath, atomically: true, encoding: .utf8) } else { try? FileManager.default.removeItem(atPath: agePath) }
    }

    /// Makes /jwks.json fail (the server answers 500 with no file to read).
    func breakKeys() { try? FileManager.default.removeItem(atPath: directory.path + "/jwks.json") }

    /// How many requests `path` has had.
    func count(_ path: String) throws -> Int {
        let output = try runCommand("/usr/bin/curl", ["-s", "-m", "5"] + (certificate.map { ["--cacert", $0] } ?? []) + [url("/count?p=" + path)])
        guard let count = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("count said \(output)") }
        return count
    }

    func stop() {
        guard process.isRunning else { return }
        // SIGKILL: the test runner's children inherit a signal mask in which SIGTERM may not arrive.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
