import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Stock JWT libraries verify Gatehouse tokens from the issuer URL alone (RFC 8414 metadata, `jwks_uri`):
/// PyJWT's `PyJWKClient`, Authlib's `jose`, and Go's go-jose from Debian, for every asymmetric algorithm and
/// across a rotation (a token signed before it, checked after it).
@Suite struct ResourceServerVerifierTests {
    /// Builds Tests/Verifiers/go offline against Debian's golang-gopkg-square-go-jose.v2-dev.
    static func goVerifier() throws -> String {
        let output = PluginTestSupport.packageRoot + "/.build/go-verifiers"
        let binary = output + "/verify_tokens"
        let source = PluginTestSupport.packageRoot + "/Tests/Verifiers/go/verify_tokens.go"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let built = try runCommand("/usr/bin/env", ["GO111MODULE=off", "GOPATH=/usr/share/gocode", "GOCACHE=\(output)/cache",
                                                    "go", "build", "-o", binary, source], mergeErrors: true)
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("cannot build the Go verifier (needs golang and golang-gopkg-square-go-jose.v2-dev):\n\(built)")
        }
        return binary
    }

    static func kid(_ token: String) -> String? {
        (try? JSONParser.parse(Base64Decode.url(String(token.split(separator: ".")[0]))))?["kid"]?.stringValue
    }

    static func token(_ gatehouse: ServedGatehouse, _ client: (id: String, secret: String)) throws -> String {
        let body = try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):\(client.secret)", "-d", "grant_type=client_credentials",
                                                    gatehouse.url + "/api/v1/oauth/token"])
        guard let token = try JSONParser.parse(body)["access_token"]?.stringValue else { throw TestFailure("no token: \(body)") }
        return token
    }

    @Test(arguments: ["RS256", "ES256", "EdDSA"]) func stockLibrariesVerifyAcrossARotation(_ algorithm: String) throws {
        let python = try ClientLibraryTests.python(venv: "python-verifiers", requirements: "Tests/Verifiers/requirements.txt")
        let go = try Self.goVerifier()
        let gatehouse = try ServedGatehouse(config: #"{"token": {"signing_algorithm": "\#(algorithm)"}}"#)
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "api")
        let before = try Self.token(gatehouse, client)
        let rotated = try gatehouse.cli(["keys", "rotate", "--algorithm", algorithm])
        #expect(rotated.contains("is now current"), "\(rotated)")
        // The running host switches within a second (it checks the key file every second).
        var after = before
        #expect(PluginTestSupport.eventually(timeout: .seconds(4)) {
            after = (try? Self.token(gatehouse, client)) ?? before
            return Self.kid(after) != Self.kid(before)
        })
        let script = PluginTestSupport.packageRoot + "/Tests/Verifiers/verify_tokens.py"
        let pythonOutput = try runCommand(python, [script, gatehouse.url, before, after], mergeErrors: true)
        for line in ["pyjwt 1: ok", "authlib 1: ok", "pyjwt 2: ok", "authlib 2: ok", "pyjwt tampered: refused",
                     "authlib tampered: refused"] {
            #expect(pythonOutput.contains(line), "\(line)\n\(pythonOutput)")
        }
        #expect(pythonOutput.contains("ok \(algorithm) \(Self.kid(before) ?? "?") \(client.id)"), "\(pythonOutput)")
        let goOutput = try runCommand(go, [gatehouse.url, before, after], mergeErrors: true)
        for line in ["go-jose 1: ok \(algorithm)", "go-jose 2: ok \(algorithm)", "go-jose tampered: refused"] {
            #expect(goOutput.contains(line), "\(line)\n\(goOutput)")
        }
    }
}
