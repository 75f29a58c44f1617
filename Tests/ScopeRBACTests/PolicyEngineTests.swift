import PluginProtocol
import Testing
@testable import ScopeRBACPlugin

@Suite struct PolicyEngineTests {
    static let policyText = #"""
    {
      "version": 1,
      "defaultRole": "default",
      "roles": {
        "default": {"scopes": ["metrics"]},
        "scraper": {"scopes": ["metrics", "metrics:*"]},
        "reporter": {"scopes": ["reports:*"]},
        "admin": {"scopes": ["*"]}
      },
      "resources": [
        {"name": "metrics", "methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"]},
        {"name": "reports", "path": "/api/v1/reports/**", "read": ["reports:read"], "write": ["reports:write"]},
        {"name": "item", "methods": ["GET", "DELETE"], "path": "/api/v1/items/*", "scopes": ["items"]}
      ],
      "cacheTtlMs": 2500
    }
    """#

    let engine = PolicyEngine(policy: try! PolicyDocument(text: Array(policyText.utf8)))

    private func authorize(_ method: String, _ path: String, scopes: [String], role: String = "scraper") -> AuthorizeResult {
        engine.authorize(AuthorizeParams(clientID: "c", role: role, scopes: scopes, request: .init(method: method, path: path)))
    }

    @Test(arguments: [
        // method, path, token scopes, role, allowed
        ("GET", "/api/v1/metrics", ["metrics"], "scraper", true),
        ("get", "/api/v1/metrics", ["metrics"], "scraper", true),
        ("POST", "/api/v1/metrics", ["metrics"], "scraper", false),       // method mismatch
        ("GET", "/api/v1/metrics", [], "scraper", false),                 // empty scope
        ("GET", "/api/v1/metrics", ["metric"], "scraper", false),         // near miss
        ("GET", "/api/v1/metricsX", ["metrics"], "scraper", false),       // prefix trap
        ("GET", "/api/v1/metrics/", ["metrics"], "scraper", false),       // trailing slash is another path
        ("GET", "/api/v1/metrics/../oauth/token", ["metrics"], "scraper", false),
        ("GET", "/api/v1/metrics/%2e%2e/oauth", ["metrics"], "scraper", false),
        ("GET", "/api/v1/%6detrics", ["metrics"], "scraper", true),       // encoded unreserved character
        ("GET", "/api/v1%2fmetrics", ["metrics"], "scraper", false),      // encoded slash
        ("GET", "/api/v1/metrics%00", ["metrics"], "scraper", false),
        ("GET", "/api/v1/metrics%zz", ["metrics"], "scraper", false),
        ("GET", "/api//v1/metrics", ["metrics"], "scraper", false),
        ("GET", "/api/v1/metrics", ["metrics"], "ghost-role", true),      // unknown role → defaultRole
        ("GET", "/api/v1/metrics", ["metrics"], "reporter", false),       // role no longer permits the scope
        ("GET", "/api/v1/reports", ["reports:read"], "reporter", true),   // ** matches zero segments
        ("GET", "/api/v1/reports/2026/11", ["reports:read"], "reporter", true),
        ("POST", "/api/v1/reports/new", ["reports:read"], "reporter", false),
        ("POST", "/api/v1/reports/new", ["reports:write"], "reporter", true),
        ("HEAD", "/api/v1/reports/x", ["reports:*"], "reporter", true),   // wildcard token scope
        ("GET", "/api/v1/items/42", ["items"], "admin", true),
        ("GET", "/api/v1/items/42/sub", ["items"], "admin", false),       // * is one segment
        ("GET", "/api/v1/items/", ["items"], "admin", false),             // * needs a non-empty segment
        ("DELETE", "/api/v1/items/7", ["items"], "admin", true),
        ("GET", "/elsewhere", ["*"], "admin", false),                     // deny by default
    ])
    func matching(method: String, path: String, scopes: [String], role: String, allowed: Bool) {
        let result = authorize(method, path, scopes: scopes, role: role)
        #expect(result.allowed == allowed, "\(method) \(path) \(scopes) as \(role): \(result.reason)")
        #expect(!result.reason.isEmpty)
        #expect(result.cacheTTLMilliseconds == 2500)
    }

    @Test func denialsExplainThemselvesAndNameTheScope() {
        let missing = authorize("GET", "/api/v1/metrics", scopes: ["other"])
        #expect(missing.reason == "GET on resource 'metrics' needs scope metrics")
        #expect(missing.requiredScopes == ["metrics"])
        #expect(authorize("POST", "/api/v1/metrics", scopes: ["metrics"]).reason == "method POST is not allowed on /api/v1/metrics")
        #expect(authorize("GET", "/nope", scopes: ["metrics"]).reason == "no resource in the policy matches GET /nope")
        #expect(authorize("GET", "/a/../b", scopes: []).reason.contains("canonical"))
        #expect(authorize("GET", "/api/v1/metrics", scopes: ["metrics"]).reason == "scope 'metrics' allows GET on resource 'metrics'")
    }

    @Test func unknownRoleWithoutADefaultIsDenied() throws {
        let strict = PolicyEngine(policy: try PolicyDocument(text: Array(#"{"roles":{"scraper":{"scopes":["metrics"]}},"resources":[{"path":"/m","scopes":["metrics"]}]}"#.utf8)))
        let result = strict.authorize(AuthorizeParams(clientID: "c", role: "ghost", scopes: ["metrics"], request: .init(method: "GET", path: "/m")))
        #expect(!result.allowed)
        #expect(result.reason == "role 'ghost' is not defined in the policy")
        let grant = strict.grant(GrantParams(client: PolicySubject(clientID: "c", role: "", allowedScopes: ["metrics"]), requestedScopes: ["metrics"]))
        #expect(!grant.granted && grant.reason == "role '(none)' is not defined in the policy")
    }

    @Test func grantFollowsRFC6749Section3_3() {
        let client = PolicySubject(clientID: "prom", role: "scraper", allowedScopes: ["metrics", "metrics:read", "admin"],
                                   defaultScopes: ["metrics"])
        let byDefault = engine.grant(GrantParams(client: client, requestedScopes: nil))
        #expect(byDefault.granted && byDefault.scopes == ["metrics"])
        let explicit = engine.grant(GrantParams(client: client, requestedScopes: ["metrics:read", "metrics", "metrics"]))
        #expect(explicit.granted && explicit.scopes == ["metrics:read", "metrics"])
        let notAllowed = engine.grant(GrantParams(client: client, requestedScopes: ["metrics", "billing"]))
        #expect(!notAllowed.granted && notAllowed.reason == "scope 'billing' is not allowed for client 'prom'")
        let roleForbids = engine.grant(GrantParams(client: client, requestedScopes: ["admin"]))
        #expect(!roleForbids.granted && roleForbids.reason == "role 'scraper' may not hold scope 'admin'")
        var noDefaults = client
        noDefaults.defaultScopes = []
        let empty = engine.grant(GrantParams(client: noDefaults, requestedScopes: nil))
        #expect(!empty.granted && empty.reason.contains("no default scopes"))
    }

    @Test func builtInPolicyAllowsMetricsOnly() {
        let builtIn = PolicyEngine(policy: .builtIn)
        let ok = builtIn.authorize(AuthorizeParams(clientID: "p", role: "", scopes: ["metrics"], request: .init(method: "GET", path: "/api/v1/metrics")))
        #expect(ok.allowed)
        let other = builtIn.authorize(AuthorizeParams(clientID: "p", role: "", scopes: ["metrics"], request: .init(method: "GET", path: "/api/v1/status")))
        #expect(!other.allowed)
        let grant = builtIn.grant(GrantParams(client: PolicySubject(clientID: "p", role: "", allowedScopes: ["metrics"], defaultScopes: ["metrics"]),
                                              requestedScopes: nil))
        #expect(grant.granted && grant.scopes == ["metrics"])
    }

    @Test(arguments: [
        ("{\"roles\": {}, \"resources\": [}", "line 1, column 29"),
        ("{\"roles\": {}, \"extra\": 1}", "unknown field 'extra'"),
        ("{\"roles\": {\"r\": {\"scopes\": [\"a b\"]}}}", "roles.r.scopes: 'a b' is not a scope"),
        ("{\"roles\": {\"r\": {\"scopes\": [\"a*b\"]}}}", "roles.r.scopes: 'a*b'"),
        ("{\"roles\": {}, \"defaultRole\": \"x\"}", "defaultRole: role 'x' is not defined"),
        ("{\"roles\": {}, \"resources\": [{\"path\": \"nope\", \"scopes\": [\"a\"]}]}", "resources[0].path"),
        ("{\"roles\": {}, \"resources\": [{\"path\": \"/a/**/b\", \"scopes\": [\"a\"]}]}", "resources[0].path"),
        ("{\"roles\": {}, \"resources\": [{\"path\": \"/a\"}]}", "resources[0]: needs scopes"),
        ("{\"roles\": {}, \"resources\": [{\"path\": \"/a\", \"scopes\": [\"x*\"]}]}", "resources[0].scopes: 'x*' is not a scope"),
        ("{\"roles\": {}, \"cacheTtlMs\": -1}", "cacheTtlMs"),
        ("[]", "policy must be an object"),
    ])
    func invalidPoliciesNameTheFieldAtFault(text: String, expected: String) {
        do {
            _ = try PolicyDocument(text: Array(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}
