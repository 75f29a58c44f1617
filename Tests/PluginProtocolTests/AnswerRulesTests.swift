import Testing
@testable import PluginProtocol

/// The protocol's rules for plugin answers, checked as each result is decoded: every rule, broken one at a time.
@Suite struct AnswerRulesTests {
    private let client: JSONValue = ["id": "prom", "name": "Prometheus", "role": "scraper", "allowedScopes": ["metrics", "a:b"],
                                     "defaultScopes": ["metrics"], "enabled": true, "createdAt": 1, "updatedAt": 1,
                                     "instance": "q3Zs0nGk2xR8yT1w"]

    private func with(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = client else { return client }
        members[key] = value
        return .object(members)
    }

    @Test func anHonestClientDecodesEverywhere() throws {
        #expect(try AuthenticateResult(json: ["authenticated": true, "client": client]).client?.id == "prom")
        #expect(try GetClientResult(json: ["client": client]).client?.instance == "q3Zs0nGk2xR8yT1w")
        #expect(try ClientResult(json: ["client": client]).client.allowedScopes == ["metrics", "a:b"])
        #expect(try ListClientsResult(json: ["clients": [client], "nextCursor": nil]).clients.count == 1)
        #expect(try GetClientResult(json: ["client": nil]).client == nil)
        #expect(try AuthenticateResult(json: ["authenticated": false, "reason": "wrong_secret"]).failure == "wrong_secret")
    }

    @Test(arguments: [
        ("id", "../../x y"), ("id", ""), ("id", "-leading"), ("allowedScopes", ["a b\"c"]), ("allowedScopes", ["back\\slash"]),
        ("defaultScopes", ["other"]), ("role", "two words"), ("name", "line\nbreak"), ("tokenLifetime", 0),
        ("instance", "has space"), ("instance", ""),
    ] as [(String, JSONValue)])
    func aClientThatBreaksAFieldRuleIsRefusedInEveryAnswer(key: String, value: JSONValue) {
        let bad = with(key, value)
        #expect(throws: JSONShapeError.self) { try AuthenticateResult(json: ["authenticated": true, "client": bad]) }
        #expect(throws: JSONShapeError.self) { try GetClientResult(json: ["client": bad]) }
        #expect(throws: JSONShapeError.self) { try ClientResult(json: ["client": bad]) }
        #expect(throws: JSONShapeError.self) { try ListClientsResult(json: ["clients": [client, bad], "nextCursor": nil]) }
    }

    @Test func aDisabledClientIsNeverAuthenticatedButMayBeLookedUp() throws {
        let disabled = with("enabled", false)
        #expect(throws: JSONShapeError.self) { try AuthenticateResult(json: ["authenticated": true, "client": disabled]) }
        #expect(try GetClientResult(json: ["client": disabled]).client?.enabled == false)
    }

    @Test func aFailureReasonIsACode() throws {
        for bad: JSONValue in ["Wrong secret", "wrong_secret\r\n", "", .string(String(repeating: "a", count: 41))] {
            #expect(throws: JSONShapeError.self) { try AuthenticateResult(json: ["authenticated": false, "reason": bad]) }
        }
    }

    @Test func policyScopesAreScopeTokens() throws {
        #expect(try GrantResult(json: ["granted": true, "scopes": ["metrics"], "reason": "ok \"quoted\""]).reason == "ok \"quoted\"")
        #expect(throws: JSONShapeError.self) { try GrantResult(json: ["granted": true, "scopes": ["a b"], "reason": ""]) }
        #expect(throws: JSONShapeError.self) { try GrantResult(json: ["granted": true, "scopes": ["x\"y"], "reason": ""]) }
        #expect(throws: JSONShapeError.self) {
            try GrantResult(json: ["granted": true, "scopes": .array((0...100).map { .string("s\($0)") }), "reason": ""])
        }
        #expect(try AuthorizeResult(json: ["allowed": false, "reason": "no", "requiredScopes": ["metrics"]]).requiredScopes == ["metrics"])
        #expect(throws: JSONShapeError.self) {
            try AuthorizeResult(json: ["allowed": false, "reason": "no", "requiredScopes": ["x\", error=\"forged"]])
        }
    }

    @Test func revokedTokenIDsAreShortAndPrintable() throws {
        #expect(try RevocationsResult(json: ["revocations": [["jti": "nvNxnwblR0i9TZW4SoZo9w", "expiresAt": 5]], "last": 1])
            .revocations.count == 1)
        for bad: JSONValue in ["", "with space", .string(String(repeating: "j", count: 129))] {
            #expect(throws: JSONShapeError.self) {
                try RevocationsResult(json: ["revocations": [["jti": bad, "expiresAt": 5]], "last": 1])
            }
        }
    }

    @Test func instancesAreBase64URLCharacters() {
        #expect(ClientInstance.isValid("q3Zs0nGk2xR8yT1w") && ClientInstance.isValid("-_") && ClientInstance.isValid("a"))
        #expect(!ClientInstance.isValid("") && !ClientInstance.isValid("a.b") && !ClientInstance.isValid(String(repeating: "a", count: 65)))
    }
}
