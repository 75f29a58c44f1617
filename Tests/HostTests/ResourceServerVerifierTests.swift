import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Stock JWT libraries verify Gatehouse tokens from the issuer URL alone (RFC 8414 metadata, `jwks_uri`):
/// PyJWT's `PyJWKClient`, Authlib's `jose`, Go's go-jose and Node's `jose` from Debian, for every asymmetric
/// algorithm and across a rotation (a token signed before it, checked after it).
@Suite struct ResourceServerVerifierTests {
    static let goOutput = PluginTestSupport.packageRoot + "/.build/go-verifiers"

    /// Builds `sources`, the files of one `package main` in one directory, into `binary`, offline against
    /// Debian's golang-gopkg-square-go-jose.v2-dev.
    static func goBuild(_ sources: [String], to binary: String) throws -> String {
        try FileManager.default.createDirectory(atPath: goOutput, withIntermediateDirectories: true)
        let built = try runCommand("/usr/bin/env", ["GO111MODULE=off", "GOPATH=/usr/share/gocode", "GOCACHE=\(goOutput)/cache",
                                                    "go", "build", "-o", binary] + sources, mergeErrors: true)
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("cannot build \(sources) (needs golang and golang-gopkg-square-go-jose.v2-dev):\n\(built)")
        }
        return binary
    }

    static func goVerifier() throws -> String {
        try goBuild([PluginTestSupport.packageRoot + "/Tests/Verifiers/go/verify_tokens.go"], to: goOutput + "/verify_tokens")
    }

    /// `snippet` with each of the doc's example values replaced by the host's; each must occur exactly once, or
    /// the doc changed under the test.
    static func adapted(_ snippet: String, _ replacements: KeyValuePairs<String, String>) throws -> String {
        var text = snippet
        for (example, actual) in replacements {
            guard text.components(separatedBy: example).count == 2 else {
                throw TestFailure("the snippet no longer has \(example) exactly once:\n\(snippet)")
            }
            text = text.replacingOccurrences(of: example, with: actual)
        }
        return text
    }

    static let exampleIssuer = #""https://auth.example.com""#

    /// Docs/verifying-tokens.md's Go snippet, with the host's issuer and algorithm, as `snippet.go` beside
    /// Tests/Verifiers/go-doc/main.go, which calls its `verify`; built into a program per `name`.
    static func goDocVerifier(issuer: String, algorithm: String, name: String) throws -> String {
        let snippet = try adapted(DocPage.block("Docs/verifying-tokens.md", "go", containing: "func verify"),
                                  [exampleIssuer: "\"\(issuer)\"", #"header.Algorithm != "RS256""#: "header.Algorithm != \"\(algorithm)\""])
        let directory = goOutput + "/doc-" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: directory + "/main.go")
        try FileManager.default.copyItem(atPath: PluginTestSupport.packageRoot + "/Tests/Verifiers/go-doc/main.go", toPath: directory + "/main.go")
        try Data(("package main\n\n" + snippet + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/snippet.go"), options: .atomic)
        return try goBuild([directory + "/main.go", directory + "/snippet.go"], to: directory + "/go-doc")
    }

    /// Docs/verifying-tokens.md's Python snippet, with the host's issuer and algorithm, as a file for
    /// verify_tokens.py --doc.
    static func pythonDocSnippet(issuer: String, algorithm: String, name: String) throws -> String {
        let snippet = try adapted(DocPage.block("Docs/verifying-tokens.md", "python", containing: "PyJWKClient"),
                                  [exampleIssuer: "\"\(issuer)\"", #"algorithms=["RS256"]"#: "algorithms=[\"\(algorithm)\"]"])
        let directory = PluginTestSupport.packageRoot + "/.build/python-doc-snippets"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/doc_snippet_\(name).py"
        try Data(snippet.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
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
    static func nodeDocSnippet(issuer: String, algorithm: String, name: String? = nil) throws -> String {
        let module = try adapted(DocPage.block("Docs/verifying-tokens.md", "js", containing: "createRemoteJWKSet"),
                                 [exampleIssuer: "\"\(issuer)\"", #"const algorithms = ["RS256"];"#: "const algorithms = [\"\(algorithm)\"];"])
        let path = try URL(fileURLWithPath: nodeVerifier.get().script).deletingLastPathComponent().path
            + "/doc-snippet-\(name ?? algorithm).mjs"
        try Data(module.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    /// `token` with one character of its signature changed: the last but one, because the last of a
    /// base64url signature may carry only padding bits that a decoder ignores.
    static func tampered(_ token: String) -> String {
        var characters = Array(token)
        characters[characters.count - 2] = characters[characters.count - 2] == "A" ? "B" : "A"
        return String(characters)
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
        let pythonSnippet = try Self.pythonDocSnippet(issuer: gatehouse.url, algorithm: algorithm, name: algorithm)
        let pythonOutput = try runCommand(python, [script, "--doc", pythonSnippet, gatehouse.url, before, after], mergeErrors: true)
        for line in ["pyjwt 1: ok", "authlib 1: ok", "pyjwt 2: ok", "authlib 2: ok", "pyjwt tampered: refused",
                     "authlib tampered: refused", "python-doc 1: ok \(client.id)", "python-doc 2: ok \(client.id)",
                     "python-doc tampered: refused"] {
            #expect(pythonOutput.contains(line), "\(line)\n\(pythonOutput)")
        }
        #expect(pythonOutput.contains("ok \(algorithm) \(Self.kid(before) ?? "?") \(client.id)"), "\(pythonOutput)")
        let goOutput = try runCommand(go, [gatehouse.url, before, after], mergeErrors: true)
        for line in ["go-jose 1: ok \(algorithm)", "go-jose 2: ok \(algorithm)", "go-jose tampered: refused"] {
            #expect(goOutput.contains(line), "\(line)\n\(goOutput)")
        }
        let goDoc = try Self.goDocVerifier(issuer: gatehouse.url, algorithm: algorithm, name: algorithm)
        let goDocOutput = try runCommand(goDoc, [gatehouse.url, before, after, Self.tampered(before)], mergeErrors: true)
        for line in ["go-doc 1: ok \(client.id)", "go-doc 2: ok \(client.id)", "go-doc 3: refused"] {
            #expect(goDocOutput.contains(line), "\(line)\n\(goDocOutput)")
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

    /// The same for PyJWT, Authlib and go-jose, and for the doc's snippets, which expect `gatehouse`: each
    /// refuses the token because of its audience, and the libraries take it when told to expect `billing`.
    @Test func pythonGoAndTheDocSnippetsRefuseAnotherAudience() throws {
        let python = try ClientLibraryTests.python(venv: "python-verifiers", requirements: "Tests/Verifiers/requirements.txt")
        let go = try Self.goVerifier()
        let gatehouse = try ServedGatehouse(config: #"{"audience": "billing"}"#)
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "api")
        let token = try Self.token(gatehouse, client)
        let script = PluginTestSupport.packageRoot + "/Tests/Verifiers/verify_tokens.py"
        let pythonSnippet = try Self.pythonDocSnippet(issuer: gatehouse.url, algorithm: "RS256", name: "audience")
        let refused = try runCommand(python, [script, "--doc", pythonSnippet, gatehouse.url, token], mergeErrors: true)
            + runCommand(go, [gatehouse.url, token], mergeErrors: true)
            + runCommand(Self.goDocVerifier(issuer: gatehouse.url, algorithm: "RS256", name: "audience"), [gatehouse.url, token], mergeErrors: true)
            + Self.node(["--doc", Self.nodeDocSnippet(issuer: gatehouse.url, algorithm: "RS256", name: "audience"), "--audience", "billing",
                         gatehouse.url, token])
        for line in ["pyjwt 1: FAILED InvalidAudienceError", #"authlib 1: FAILED InvalidClaimError: invalid_claim: Invalid claim "aud""#,
                     "python-doc 1: FAILED InvalidAudienceError", "go-jose 1: FAILED square/go-jose/jwt: validation failed, invalid audience claim (aud)",
                     "go-doc 1: refused square/go-jose/jwt: validation failed, invalid audience claim (aud)",
                     "node-doc 1: refused ERR_JWT_CLAIM_VALIDATION_FAILED aud "]
        {
            #expect(refused.contains(line), "\(line)\n\(refused)")
        }
        let accepted = try runCommand(python, [script, "--audience", "billing", gatehouse.url, token], mergeErrors: true)
            + runCommand(go, ["--audience", "billing", gatehouse.url, token], mergeErrors: true)
        let kid = Self.kid(token) ?? "?"
        for line in ["pyjwt 1: ok RS256 \(kid) \(client.id)", "authlib 1: ok RS256 \(kid) \(client.id)", "go-jose 1: ok RS256 \(kid) \(client.id)"] {
            #expect(accepted.contains(line), "\(line)\n\(accepted)")
        }
    }
}
