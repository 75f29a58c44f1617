import Foundation
import PluginProtocol
import Testing
@testable import Host

/// Runs every `sh` example in Docs/authentication.md against a served Gatehouse and checks its output
/// against the `json` block that follows it, so the guide cannot drift from what Gatehouse answers.
/// A documented string ending in `…` is a prefix; every other value must match exactly.
@Suite struct DocExamplesTests {
    struct Example {
        let command: String
        let expected: JSONValue
    }

    static func examples(in path: String) throws -> [Example] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        var blocks: [(language: String, text: String)] = []
        var index = 0
        while index < lines.count {
            if lines[index].hasPrefix("```"), lines[index].count > 3 {
                let language = String(lines[index].dropFirst(3))
                var body: [String] = []
                index += 1
                while index < lines.count && !lines[index].hasPrefix("```") {
                    body.append(lines[index])
                    index += 1
                }
                blocks.append((language, body.joined(separator: "\n")))
            }
            index += 1
        }
        var examples: [Example] = []
        for (position, block) in blocks.enumerated() where block.language == "sh" && position + 1 < blocks.count {
            let next = blocks[position + 1]
            guard next.language == "json" else { continue }
            examples.append(Example(command: block.text, expected: try JSONParser.parse(next.text)))
        }
        return examples
    }

    private func matches(_ actual: JSONValue, _ expected: JSONValue) -> Bool {
        switch (actual, expected) {
        case (.object(let got), .object(let want)):
            return Set(got.keys) == Set(want.keys) && want.allSatisfy { key, value in matches(got[key]!, value) }
        case (.string(let got), .string(let want)) where want.hasSuffix("…"):
            return got.hasPrefix(want.dropLast())
        default:
            return actual == expected
        }
    }

    @Test func authenticationGuideExamplesRunAsDocumented() throws {
        let examples = try Self.examples(in: PluginTestSupport.packageRoot + "/Docs/authentication.md")
        #expect(examples.count >= 8, "the guide lost its examples")
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus", extra: ["--id", "prometheus-k3j9x2"])
        let token = try JSONParser.parse(try runCommand("/usr/bin/curl", ["-s", "-u", "\(client.id):\(client.secret)",
            "-d", "grant_type=client_credentials", gatehouse.url + "/api/v1/oauth/token"]))["access_token"]?.stringValue ?? ""
        let environment = ["GATEHOUSE": gatehouse.url, "CLIENT_ID": client.id, "CLIENT_SECRET": client.secret, "ACCESS_TOKEN": token]
        for example in examples {
            let script = environment.map { "\($0.key)='\($0.value)'" }.joined(separator: " ") + " ; " + example.command
            let output = try runCommand("/bin/bash", ["-c", script])
            let actual = (try? JSONParser.parse(output)) ?? .string(output)
            #expect(matches(actual, example.expected), "\(example.command)\n  documented: \(JSONWriter.string(example.expected))\n  actual:     \(output)")
        }
    }

    /// authentication.md §6's Python snippets, run with the pinned libraries as a reader would: Authlib as is,
    /// requests-oauthlib refusing the local http:// URL until OAUTHLIB_INSECURE_TRANSPORT=1, as the page says.
    @Test func pythonLibrarySnippetsRunAsDocumented() throws {
        let python = try ClientLibraryTests.pythonWithLibraries()
        let snippets = try DocPage.blocks("Docs/authentication.md").filter { $0.language == "python" }.map(\.text)
        #expect(snippets.count == 2, "the guide lost a Python example")
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "python-app")
        let directory = TemporaryDirectory()
        var environment = ["GATEHOUSE": gatehouse.url, "CLIENT_ID": client.id, "CLIENT_SECRET": client.secret,
                           "OAUTHLIB_INSECURE_TRANSPORT": "", "AUTHLIB_INSECURE_TRANSPORT": ""]
        for (index, snippet) in snippets.enumerated() {
            try snippet.write(toFile: directory.path + "/app\(index).py", atomically: true, encoding: .utf8)
            let insecure = "env -u OAUTHLIB_INSECURE_TRANSPORT -u AUTHLIB_INSECURE_TRANSPORT"
            let plain = try shell("\(insecure) '\(python)' app\(index).py", in: directory.path, environment: environment)
            if snippet.contains("requests_oauthlib") {
                #expect(plain.status != 0 && plain.output.contains("InsecureTransportError"), "\(plain.output)")
                environment["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
                let local = try shell("'\(python)' app\(index).py", in: directory.path, environment: environment)
                #expect(local.status == 0 && local.output.contains("# TYPE gatehouse_tokens_issued_total counter"), "\(local.output)")
                environment["OAUTHLIB_INSECURE_TRANSPORT"] = ""
            } else {
                #expect(plain.status == 0 && plain.output.contains("# TYPE gatehouse_tokens_issued_total counter"), "\(plain.output)")
            }
        }
    }
}
