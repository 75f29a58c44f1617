import Foundation
import PluginProtocol
import Testing
@testable import Host

/// RFC 6749 §5.2 / RFC 6750 §3: `error_description` only in %x20-21 / %x23-5B / %x5D-7E, for every error the
/// endpoints produce, including those that mention a piece of a hostile request.
@Suite struct ErrorDescriptionTests {
    static let policy = #"{"roles":{"default":{"scopes":["*"]}},"defaultRole":"default","resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":["metrics"]},{"name":"app","path":"/app/**","read":["app:read"],"write":["app:write"]}]}"#

    /// Names a client might send: quotes, backslashes, non-ASCII, control bytes, a quote to end ours, escapes.
    static let hostileNames = [#"a"b"#, #"a\b"#, "§", "é", "名前", "%00x", "%0Ax", "%7F", "it's", "%25", "%22%5C", String(repeating: "\"", count: 200)]

    @Test func sanitizingKeepsAllowedTextAndEscapesTheRest() {
        #expect(ErrorDescription.sanitized("use POST") == "use POST")
        #expect(ErrorDescription.sanitized("RFC 6749 §3.3") == "RFC 6749 %C2%A73.3")
        #expect(ErrorDescription.sanitized("a\"b\\c\u{7F}\n") == "a%22b%5Cc%7F%0A")
        #expect(ErrorDescription.quoting("it's 100%") == "'it%27s 100%25'")
        #expect(ErrorDescription.quoting(String(repeating: "x", count: 100)) == "'" + String(repeating: "x", count: 64) + "...'")
        #expect(ErrorDescription.sanitized(String(repeating: "y", count: 1000)).utf8.count == ErrorDescription.maxBytes)
        for byte in UInt8(0)...UInt8(255) {
            let allowed = byte == 0x20 || byte == 0x21 || (0x23...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            #expect(ErrorDescription.isAllowed(byte) == allowed, "byte \(byte)")
        }
    }

    @Test func everyErrorTextTheEndpointsProduceIsInTheCharset() async throws {
        let directory = TemporaryDirectory()
        try Self.policy.write(toFile: directory.path + "/policy.json", atomically: true, encoding: .utf8)
        let host = try TestGatehouse(directory: directory) { config in
            config.policy.config = ["policyFile": .string(directory.path + "/policy.json")]
            config.rateLimits.perAddress = .init(burst: 1000, refillPerSecond: 1)
            config.http.maxBodyBytes = 4096
        }
        defer { host.stop() }
        try await host.addClient("reader", scopes: ["app:read"])
        try await host.addClient("limited", scopes: ["app:read"])
        let token = try host.token(id: "reader")
        let basic = "Basic " + Data("reader:\(StoreFixtures.secret)".utf8).base64EncodedString()
        let form = ("Content-Type", "application/x-www-form-urlencoded")
        var answers: [(what: String, response: ParsedResponse)] = []
        func ask(_ what: String, _ method: String = "POST", _ path: String = "/api/v1/oauth/token", headers: [(String, String)] = [form],
                 body: String = "") throws
        {
            answers.append((what, try host.request(method, path, headers: headers, body: body)))
        }
        for path in ["/api/v1/oauth/token", "/api/v1/oauth/revoke", "/api/v1/oauth/introspect"] {
            for name in Self.hostileNames {
                try ask("duplicate \(name) on \(path)", "POST", path, headers: [form, ("Authorization", basic)], body: "\(name)=1&\(name)=2&token=x")
                try ask("bad value of \(name) on \(path)", "POST", path, headers: [form, ("Authorization", basic)], body: "\(name)=%zz")
            }
            try ask("not UTF-8 on \(path)", "POST", path, body: "%FF%FE=1")
            try ask("GET \(path)", "GET", path)
            try ask("content type on \(path)", "POST", path, headers: [("Content-Type", "text/plain; charset=\"§\"")], body: "a=1")
            try ask("secret in the URL on \(path)", "POST", path + "?client_secret=x", body: "grant_type=client_credentials")
            try ask("two methods on \(path)", "POST", path, headers: [form, ("Authorization", basic)], body: "token=x&grant_type=client_credentials&client_secret=x")
            try ask("two Authorization on \(path)", "POST", path, headers: [form, ("Authorization", basic), ("Authorization", basic)],
                    body: "token=x&grant_type=client_credentials")
            try ask("id mismatch on \(path)", "POST", path, headers: [form, ("Authorization", basic)], body: "token=x&grant_type=client_credentials&client_id=%C2%A7")
            try ask("scheme on \(path)", "POST", path, headers: [form, ("Authorization", "Digest \"§\"")], body: "token=x&grant_type=client_credentials")
            try ask("malformed Basic on \(path)", "POST", path, headers: [form, ("Authorization", "Basic §§§")], body: "token=x&grant_type=client_credentials")
            try ask("no credentials on \(path)", "POST", path, body: "token=x&grant_type=client_credentials")
            try ask("wrong secret on \(path)", "POST", path, body: "token=x&grant_type=client_credentials&client_id=reader&client_secret=%C2%A7%22")
            try ask("unknown client on \(path)", "POST", path, body: "token=x&grant_type=client_credentials&client_id=%C2%A7%22&client_secret=x")
        }
        try ask("missing grant_type", headers: [form, ("Authorization", basic)], body: "scope=app:read")
        try ask("unsupported grant_type", headers: [form, ("Authorization", basic)], body: "grant_type=%22%C2%A7%5C")
        try ask("scope syntax", headers: [form, ("Authorization", basic)], body: "grant_type=client_credentials&scope=a%22b%5C")
        try ask("scope not allowed", headers: [form, ("Authorization", basic)], body: "grant_type=client_credentials&scope=app:write")
        try ask("missing token", "POST", "/api/v1/oauth/revoke", headers: [form, ("Authorization", basic)], body: "token_type_hint=x")
        let other = try host.token(id: "limited")
        try ask("foreign token", "POST", "/api/v1/oauth/revoke", headers: [form, ("Authorization", basic)], body: "token=\(other)")
        try ask("introspect not allowed", "POST", "/api/v1/oauth/introspect", headers: [form, ("Authorization", basic)], body: "token=\(other)")
        for _ in 0..<12 { _ = try host.tokenRequest(id: "limited", secret: StoreFixtures.otherSecret) }
        try ask("rate limited", headers: [form], body: "grant_type=client_credentials&client_id=limited&client_secret=x")
        // Bearer endpoints and forward auth, with hostile original paths the policy's reasons mention.
        try ask("no token", "GET", "/api/v1/metrics", headers: [])
        try ask("malformed token", "GET", "/api/v1/metrics", headers: [("Authorization", "Bearer §\"x")])
        try ask("token in URL", "GET", "/api/v1/metrics?access_token=x", headers: [])
        try ask("two bearer headers", "GET", "/api/v1/metrics", headers: [("Authorization", "Bearer a"), ("Authorization", "Bearer b")])
        try ask("missing uri", "GET", "/api/v1/auth/verify", headers: [("Authorization", "Bearer \(token)")])
        for uri in ["/app/\"§\\x", "/app/../\"é\\", "/elsewhere/\"\\§"] {
            for method in ["GET", "POST"] {
                try ask("verify \(method) \(uri)", "GET", "/api/v1/auth/verify",
                        headers: [("Authorization", "Bearer \(token)"), ("X-Forwarded-Uri", uri), ("X-Forwarded-Method", method)])
            }
        }
        try ask("not found", "GET", "/nowhere/\"§")
        try ask("status POST", "POST", "/api/v1/status")
        try ask("too large", body: String(repeating: "a", count: 5000))
        let raw = try RawHTTPClient(port: host.port)
        raw.send("BREW /\u{00A7} HTCPCP/1.0\r\n\r\n")
        answers.append(("malformed request line", raw.readResponses(1).first ?? ParsedResponse(status: 0, headers: [:], body: "")))

        #expect(answers.count > 100)
        for (what, response) in answers {
            #expect(response.status >= 400, "\(what): \(response.status)")
            let description = response.json["error_description"]?.stringValue
            #expect(description != nil, "\(what): no error_description in \(response.body)")
            if let description { #expect(ErrorDescription.isValid(description), "\(what): \(description)") }
            #expect(!response.body.contains("§") && !response.body.contains("é"), "\(what): \(response.body)")
            if let challenge = response.headers["www-authenticate"] { #expect(Self.challengeIsValid(challenge), "\(what): \(challenge)") }
        }
        // The duplicate's name is still there to read, escaped.
        let duplicate = try host.request("POST", "/api/v1/oauth/token", headers: [form], body: "a%22b=1&a%22b=2")
        #expect(duplicate.json["error_description"] == "parameter 'a%22b' appears more than once")
    }

    /// Every quoted value in the challenge ends where it should, and `error_description`'s is in the charset.
    static func challengeIsValid(_ header: String) -> Bool {
        guard header.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return false }
        var rest = Substring(header)
        while let start = rest.range(of: "=\"") {
            let name = rest[..<start.lowerBound].split(whereSeparator: { $0 == " " || $0 == "," }).last ?? ""
            let after = rest[start.upperBound...]
            guard let end = after.firstIndex(of: "\"") else { return false }
            if name == "error_description" && !ErrorDescription.isValid(String(after[..<end])) { return false }
            rest = after[after.index(after: end)...]
            guard rest.isEmpty || rest.hasPrefix(", ") else { return false }
        }
        return true
    }
}
