import Foundation
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `gatehouse client add/update --jwks-uri` as an operator runs them, against the default sqlite-store.
@Suite struct JWKSetURLCommandTests {
    private func run(_ arguments: [String], _ directory: TemporaryDirectory) throws -> GatehouseCLI.Run {
        try GatehouseCLI.run(arguments, in: directory)
    }

    @Test func aClientWithKeysAtAURLIsAddedShownReplacedAndDropped() throws {
        let directory = TemporaryDirectory()
        let url = "https://keys.example.com/ci/jwks.json"
        let added = try run(["client", "add", "--name", "ci runner", "--id", "ci", "--scope", "metrics", "--jwks-uri", url, "--json"], directory)
        #expect(added.status == 0, "\(added.stderr)")
        let json = try JSONParser.parse(added.stdout)
        #expect(json["auth_method"]?.stringValue == "private_key_jwt" && json["jwks_uri"]?.stringValue == url)
        #expect(json["client_secret"] == nil && json["public_keys"] == nil, "\(added.stdout)")
        let human = try run(["client", "add", "--name", "local", "--id", "local", "--scope", "metrics", "--jwks-uri", "http://127.0.0.1:9/k"], directory)
        #expect(human.status == 0 && human.stdout.contains("keys fetched from http://127.0.0.1:9/k") && !human.stdout.contains("client_secret:"),
                "\(human.stdout)\(human.stderr)")

        let shown = try run(["client", "show", "ci"], directory)
        #expect(shown.stdout.contains("auth method: private_key_jwt (keys fetched from its jwks uri") && shown.stdout.contains("jwks uri:    \(url)"),
                "\(shown.stdout)")
        let listed = try JSONParser.parse(try run(["client", "list", "--json"], directory).stdout)
        #expect(listed.arrayValue?.first { $0["client_id"]?.stringValue == "ci" }?["jwks_uri"]?.stringValue == url)

        let moved = "https://keys.example.com/ci/v2/jwks.json"
        let replaced = try run(["client", "update", "ci", "--jwks-uri", moved, "--json"], directory)
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try JSONParser.parse(replaced.stdout)["jwks_uri"]?.stringValue == moved)

        // Dropping the URL and registering a key instead, in one command.
        let key = try AsymmetricKey.generate(.edDSA)
        let jwk = try key.publicJWK().mapValues { JSONValue.string($0) }
        try GatehouseCLI.write(JSONWriter.string(.object(jwk)), to: directory.path + "/ed.jwk")
        let switched = try run(["client", "update", "ci", "--remove-jwks-uri", "--add-public-key", directory.path + "/ed.jwk",
                                "--key-id", "ed-1", "--json"], directory)
        #expect(switched.status == 0, "\(switched.stderr)")
        let after = try JSONParser.parse(switched.stdout)
        #expect(after["jwks_uri"] == nil && after["public_keys"]?.arrayValue?.count == 1, "\(switched.stdout)")
        // And back to a URL: the registered keys go with it.
        let back = try JSONParser.parse(try run(["client", "update", "ci", "--jwks-uri", url, "--json"], directory).stdout)
        #expect(back["jwks_uri"]?.stringValue == url && back["public_keys"] == nil)
        // Dropped alone: the client is left without a way in, and the CLI says so.
        let dropped = try run(["client", "update", "local", "--remove-jwks-uri"], directory)
        #expect(dropped.status == 0 && dropped.stderr.contains("cannot authenticate until you add one"), "\(dropped.stderr)")
        #expect(try run(["client", "show", "local"], directory).stdout.contains("auth method: none"))
    }

    /// `client add --jwks-uri` and `client add --public-key` print one layout, differing only in the keys.
    @Test func bothSecretlessAddsPrintTheSameLines() throws {
        let directory = TemporaryDirectory()
        let key = try AsymmetricKey.generate(.edDSA)
        try GatehouseCLI.write(JSONWriter.string(.object(try key.publicJWK().mapValues { JSONValue.string($0) })), to: directory.path + "/ed.jwk")
        let url = "https://keys.example.com/jwks.json"
        let cases = [(["--jwks-uri", url], "keys fetched from \(url)"), (["--public-key", directory.path + "/ed.jwk", "--key-id", "ed-1"], "key ed-1, EdDSA")]
        for (index, (options, method)) in cases.enumerated() {
            let added = try run(["client", "add", "--name", "runner", "--id", "r\(index)", "--scope", "metrics read"] + options, directory)
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.stdout == """
                Created client r\(index) (runner) with no secret
                  client_id:     r\(index)
                  auth method:   private_key_jwt, jwt-bearer grant (\(method))
                  scopes:        metrics read (default: metrics read)

                """, "\(added.stdout)")
        }
    }

    @Test func conflictingOptionsAndUnsafeURLsAreClearErrors() throws {
        let directory = TemporaryDirectory()
        let add = ["client", "add", "--name", "x", "--scope", "metrics"]
        let https = "https://keys.example.com/jwks.json"
        let cases: [([String], String)] = [
            (add + ["--jwks-uri", https, "--public-key", "/dev/null"], "--jwks-uri and --public-key exclude each other"),
            (add + ["--jwks-uri", https, "--secret-stdin"], "--jwks-uri and --secret-stdin exclude each other"),
            (add + ["--jwks-uri", "http://keys.example.com/jwks.json"], "must use https (http only for a loopback host"),
            (add + ["--jwks-uri", "https://me:pw@keys.example.com/jwks.json"], "must not carry a user name or password"),
            (add + ["--jwks-uri", "https://keys.example.com/jwks.json#frag"], "must not have a fragment"),
            (add + ["--jwks-uri", "/etc/jwks.json"], "must be an absolute http(s) URL"),
            (["client", "update", "x", "--jwks-uri", https, "--add-public-key", "/dev/null"], "--jwks-uri and --add-public-key exclude each other"),
            (["client", "update", "x", "--jwks-uri", https, "--remove-jwks-uri"], "--jwks-uri and --remove-jwks-uri exclude each other"),
            (["client", "update", "x", "--remove-jwks-uri", "--remove-key", "k"], "--remove-jwks-uri and --remove-key exclude each other"),
        ]
        for (arguments, message) in cases {
            let result = try run(arguments, directory)
            #expect(result.status == 2 && result.stderr.contains(message), "\(arguments): \(result.status) \(result.stderr)")
        }
        // Nothing was created by the refused commands.
        #expect(try run(["client", "list"], directory).stdout.contains("No clients"))
        // Plain http to loopback is fine (a key server on the same machine).
        for url in ["http://127.0.0.1:8080/jwks.json", "http://[::1]:8080/jwks.json", "http://localhost/jwks.json", "http://127.9.9.9/k"] {
            let result = try run(add + ["--jwks-uri", url], directory)
            #expect(result.status == 0, "\(url): \(result.stderr)")
        }
        // A client with a secret cannot take a URL; the store's refusal reaches the operator.
        let secretive = try run(["client", "add", "--name", "s", "--id", "s", "--scope", "metrics"], directory)
        #expect(secretive.status == 0)
        let refused = try run(["client", "update", "s", "--jwks-uri", https], directory)
        #expect(refused.status == 1 && refused.stderr.contains("uses a secret, not keys"), "\(refused.stderr)")
    }

    @Test func theRulesForAJWKSetURL() throws {
        for good in ["https://keys.example.com/jwks.json", "https://KEYS.example.com:8443/a/b?c=d", "http://127.0.0.1/jwks",
                     "http://localhost:1/x", "http://[::1]/x", "HTTPS://example.com", "https://[2001:db8::1]:443/k"]
        {
            #expect(JWKSetURL.violation(good) == nil, "\(good)")
        }
        for bad in ["", "https", "https://", "https:///path", "http://example.com/", "http://128.0.0.1/", "http://127.0.0.1.evil.com/",
                    "http://localhost.evil.com/", "http://[::2]/", "https://u@example.com/", "https://example.com/#", "https://example.com:0/",
                    "https://example.com:65536/", "https://exa mple.com/", "https://example.com/\u{e9}", "file:///etc/passwd",
                    "https://example.com:80:80/", "https://[::1/", "javascript:alert(1)", "https://" + String(repeating: "a", count: 1020)]
        {
            #expect(JWKSetURL.violation(bad) != nil, "\(bad)")
        }
        // The host checks store answers against the same rule.
        var record = ClientRecord(id: "c", name: "c", role: "", allowedScopes: ["m"], defaultScopes: ["m"], tokenLifetime: nil,
                                  enabled: true, createdAt: 0, updatedAt: 0, jwksURI: "http://10.1.1.1/jwks.json")
        #expect(AnswerRules.violation(record) != nil)
        record.jwksURI = "https://keys.example.com/jwks.json"
        #expect(AnswerRules.violation(record) == nil)
        record.publicKeys = [StoreConformanceTests.edKey]
        #expect(AnswerRules.violation(record)?.contains("not both") == true)
        // A store answer that breaks it is a failed call: the host never fetches from such a URL.
        for bad in ["http://192.168.1.5/jwks.json", "https://u:p@keys.example.com/", 5] as [JSONValue] {
            let answer: JSONValue = ["client": ["id": "c", "allowedScopes": ["m"], "defaultScopes": ["m"], "jwksUri": bad]]
            #expect(throws: JSONShapeError.self, "\(bad)") { try GetClientResult(json: answer) }
            #expect(throws: JSONShapeError.self, "\(bad)") { try ClientResult(json: answer) }
        }
        let good: JSONValue = ["client": ["id": "c", "allowedScopes": ["m"], "defaultScopes": ["m"], "jwksUri": "http://[::1]:9/k"]]
        #expect(try GetClientResult(json: good).client?.jwksURI == "http://[::1]:9/k")
    }
}
