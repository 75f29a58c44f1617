import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Stock JWT libraries verify Gatehouse tokens from the issuer URL alone (RFC 8414 metadata, `jwks_uri`):
/// PyJWT's `PyJWKClient`, Authlib's `jose`, Go's go-jose and Node's `jose` from Debian, for every asymmetric
/// algorithm and across a rotation (a token signed before it, checked after it).
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

    /// Tests/Verifiers/verify_tokens.mjs imports `jose` by its bare name, as Docs/verifying-tokens.md does. Node
    /// resolves an ES module import from node_modules beside the importing file (the real path, not a symlink's),
    /// never from NODE_PATH, so the script is copied into .build with node_modules/jose linked to Debian's
    /// node-jose. Once per run: the algorithms' cases run in parallel.
    static let nodeVerifier: Result<(node: String, script: String), TestFailure> = {
        let jose = "/usr/share/nodejs/jose"
        guard let node = ClientExampleTests.onPath("node"), FileManager.default.fileExists(atPath: jose + "/package.json") else {
            return .failure(TestFailure("the Node verifier needs nodejs and node-jose (scripts/bootstrap --test installs them)"))
        }
        let output = PluginTestSupport.packageRoot + "/.build/node-verifiers"
        let script = output + "/verify_tokens.mjs"
        do {
            try FileManager.default.createDirectory(atPath: output + "/node_modules", withIntermediateDirectories: true)
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: output + "/node_modules/jose")) != jose {
                try? FileManager.default.removeItem(atPath: output + "/node_modules/jose")
                try FileManager.default.createSymbolicLink(atPath: output + "/node_modules/jose", withDestinationPath: jose)
            }
            let source = try Data(contentsOf: URL(fileURLWithPath: PluginTestSupport.packageRoot + "/Tests/Verifiers/verify_tokens.mjs"))
            try source.write(to: URL(fileURLWithPath: script), options: .atomic)
        } catch {
            return .failure(TestFailure("cannot set up the Node verifier in \(output): \(error)"))
        }
        return .success((node, script))
    }()

    /// Runs the Node verifier: `node verify_tokens.mjs ARGUMENTS…`.
    static func node(_ arguments: [String]) throws -> String {
        let verifier = try nodeVerifier.get()
        return try runCommand(verifier.node, [verifier.script] + arguments, mergeErrors: true)
    }

    /// Docs/verifying-tokens.md's Node snippet as a module beside the verifier, with its example issuer and
    /// algorithm replaced by the host's, so the suite runs what a reader copies.
    static func nodeDocSnippet(issuer: String, algorithm: String) throws -> String {
        let snippet = try DocPage.block("Docs/verifying-tokens.md", "js", containing: "createRemoteJWKSet")
        let (exampleIssuer, exampleAlgorithms) = (#""https://auth.example.com""#, #"const algorithms = ["RS256"];"#)
        guard snippet.components(separatedBy: exampleIssuer).count == 2, snippet.contains(exampleAlgorithms) else {
            throw TestFailure("the Node snippet lost \(exampleIssuer) or \(exampleAlgorithms):\n\(snippet)")
        }
        let module = snippet.replacingOccurrences(of: exampleIssuer, with: "\"\(issuer)\"")
            .replacingOccurrences(of: exampleAlgorithms, with: "const algorithms = [\"\(algorithm)\"];")
        let path = try URL(fileURLWithPath: nodeVerifier.get().script).deletingLastPathComponent().path
            + "/doc-snippet-\(algorithm).mjs"
        try Data(module.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
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
        let snippet = try Self.nodeDocSnippet(issuer: gatehouse.url, algorithm: algorithm)
        let nodeOutput = try Self.node(["--algorithms", algorithm, "--doc", snippet, gatehouse.url, before, after])
        for line in ["node-doc 1: ok \(client.id)", "node-doc 2: ok \(client.id)","node-jose 1: ok \(algorithm) \(Self.kid(before) ?? "?") \(client.id)",
                     "node-jose 2: ok \(algorithm) \(Self.kid(after) ?? "?") \(client.id)", "node-jose tampered: refused"] {
            #expect(nodeOutput.contains(line), "\(line)\n\(nodeOutput)")
        }
    }

    /// A token the issuer signed for another audience (RFC 9068 §4: the resource server MUST check `aud`) is
    /// refused for that reason alone: the same token passes when the verifier expects its audience.
    @Test func nodeJoseRefusesAnotherAudience() throws {
        let gatehouse = try ServedGatehouse(config: #"{"audience": "billing"}"#)
        defer { gatehouse.stop() }
        let token = try Self.token(gatehouse, try gatehouse.addClient(name: "api"))
        let refused = try Self.node([gatehouse.url, token])
        #expect(refused.contains("node-jose 1: refused ERR_JWT_CLAIM_VALIDATION_FAILED aud "), "\(refused)")
        let accepted = try Self.node(["--audience", "billing", gatehouse.url, token])
        #expect(accepted.contains("node-jose 1: ok RS256 \(Self.kid(token) ?? "?")"), "\(accepted)")
    }
}
