import Foundation
import PluginProtocol
import Testing
@testable import Host

/// A policy plugin the conformance suite runs against. Each is configured so that scope `metrics`
/// allows `GET /api/v1/metrics` from loopback; GATEHOUSE_POLICY_UNDER_TEST adds another command
/// (it gets `{"policyFile": <file with that rule in scope-rbac format>}`).
struct PolicyUnderTest: CustomStringConvertible, Sendable {
    let description: String
    let command: String
    let arguments: [String]
    let config: @Sendable (String) -> JSONValue

    static let rbacPolicy = #"{"roles":{"scraper":{"scopes":["metrics"]}},"defaultRole":"scraper","resources":[{"name":"metrics","methods":["GET"],"path":"/api/v1/metrics","scopes":["metrics"]}]}"#

    static var all: [PolicyUnderTest] {
        var policies = [
            PolicyUnderTest(description: "scope-rbac", command: PluginTestSupport.executable("gatehouse-scope-rbac"), arguments: [],
                            config: rbacConfig),
            PolicyUnderTest(description: "python network-policy", command: "/usr/bin/env",
                            arguments: ["python3", PluginTestSupport.packageRoot + "/Docs/examples/python-policy/network_policy.py"],
                            config: { _ in
                                ["rules": [["methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"],
                                            "networks": ["127.0.0.0/8", "::1/128"]]]]
                            }),
        ]
        if let custom = custom(ProcessInfo.processInfo.environment) { policies.append(custom) }
        return policies
    }

    /// The policy named in GATEHOUSE_POLICY_UNDER_TEST, configured with GATEHOUSE_POLICY_CONFIG_UNDER_TEST (JSON)
    /// when set, else with a `policyFile` in scope-rbac's format.
    static func custom(_ environment: [String: String]) -> PolicyUnderTest? {
        guard let text = environment["GATEHOUSE_POLICY_UNDER_TEST"], let command = PluginCommandLine(text) else { return nil }
        var config = rbacConfig
        if let json = environment["GATEHOUSE_POLICY_CONFIG_UNDER_TEST"], !json.isEmpty {
            let parsed = (try? JSONParser.parse(json)) ?? .string("GATEHOUSE_POLICY_CONFIG_UNDER_TEST is not JSON")
            config = { _ in parsed }
        }
        return PolicyUnderTest(description: "custom: \(text)", command: command.executable, arguments: command.arguments, config: config)
    }

    static let rbacConfig: @Sendable (String) -> JSONValue = { directory in
        let path = directory + "/policy.json"
        try? rbacPolicy.write(toFile: path, atomically: true, encoding: .utf8)
        return ["policyFile": .string(path)]
    }

    func spec(in directory: String) -> PluginSpec {
        var spec = PluginSpec(name: "policy", role: .policy, command: command)
        spec.arguments = arguments
        spec.config = config(directory)
        spec.shutdownGrace = .seconds(2)
        return spec
    }
}

/// One suite for every policy plugin (STYLE.md §11): the properties any sound policy has.
@Suite struct PolicyConformanceTests {
    private let client = PolicySubject(clientID: "prom", role: "scraper", allowedScopes: ["metrics"], defaultScopes: ["metrics"])

    private func withPolicy(_ policy: PolicyUnderTest, _ body: (PluginPool) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(policy.spec(in: directory.path))
        defer { pool.shutdown() }
        try await body(pool)
    }

    private func authorize(_ pool: PluginPool, _ method: String, _ path: String, scopes: [String] = ["metrics"],
                           from address: String = "127.0.0.1") async throws -> AuthorizeResult
    {
        try await pool.call(Policy.authorize, AuthorizeParams(clientID: "prom", role: "scraper", scopes: scopes,
                                                              request: .init(method: method, path: path, remoteAddress: address)))
    }

    @Test(arguments: PolicyUnderTest.all)
    func grantsOnlyAllowedScopes(policy: PolicyUnderTest) async throws {
        try await withPolicy(policy) { pool in
            let byDefault = try await pool.call(Policy.grant, GrantParams(client: client, requestedScopes: nil))
            #expect(byDefault.granted && byDefault.scopes == ["metrics"])
            let extra = try await pool.call(Policy.grant, GrantParams(client: client, requestedScopes: ["metrics", "admin"]))
            #expect(!extra.granted && extra.reason.contains("admin"))
            var noDefaults = client
            noDefaults.defaultScopes = []
            let nothing = try await pool.call(Policy.grant, GrantParams(client: noDefaults, requestedScopes: nil))
            #expect(!nothing.granted && !nothing.reason.isEmpty)
        }
    }

    @Test(arguments: PolicyUnderTest.all)
    func allowsTheConfiguredRequestAndDeniesByDefault(policy: PolicyUnderTest) async throws {
        try await withPolicy(policy) { pool in
            let allowed = try await authorize(pool, "GET", "/api/v1/metrics")
            #expect(allowed.allowed && !allowed.reason.isEmpty)
            for (method, path, scopes) in [("GET", "/api/v1/metrics", [String]()), ("GET", "/api/v1/metrics", ["other"]),
                                           ("POST", "/api/v1/metrics", ["metrics"]), ("GET", "/api/v1/other", ["metrics"]),
                                           ("GET", "/api/v1/metricsX", ["metrics"]), ("GET", "/api/v1/metrics/../oauth/token", ["metrics"]),
                                           ("GET", "/api/v1%2fmetrics", ["metrics"])]
            {
                let denied = try await authorize(pool, method, path, scopes: scopes)
                #expect(!denied.allowed, "\(policy): \(method) \(path) \(scopes) was allowed")
                #expect(!denied.reason.isEmpty)
            }
        }
    }

    @Test(arguments: PolicyUnderTest.all)
    func hostileParamsGetErrorsNotCrashes(policy: PolicyUnderTest) async throws {
        try await withPolicy(policy) { pool in
            for params: JSONValue in [[:], ["scopes": 5], ["client": ["id": 1], "scopes": [], "request": "x"]] {
                let outcome = await withCheckedContinuation { continuation in
                    pool.call(method: Policy.authorize.name, params: params) { continuation.resume(returning: $0) }
                }
                guard case .failure(.remote(_, let error)) = outcome else {
                    Issue.record("\(policy): \(params) answered \(outcome)")
                    continue
                }
                #expect(error.code == .invalidParams)
            }
            let stillServing = try await authorize(pool, "GET", "/api/v1/metrics")
            #expect(stillServing.allowed)
            #expect(pool.health.restarts == 0)
        }
    }

    @Test(arguments: PolicyUnderTest.all)
    func manyDecisionsInFlight(policy: PolicyUnderTest) async throws {
        try await withPolicy(policy) { pool in
            try await withThrowingTaskGroup(of: (Bool, Bool).self) { group in
                for index in 0..<200 {
                    let expected = index % 2 == 0
                    group.addTask {
                        let result = try await authorize(pool, "GET", expected ? "/api/v1/metrics" : "/nope")
                        return (expected, result.allowed)
                    }
                }
                for try await (expected, allowed) in group { #expect(expected == allowed) }
            }
        }
    }
}

/// Swapping the policy plugin in the config changes decisions; the host is not rebuilt.
@Suite struct PolicySwapTests {
    private func start(networks: [String], directory: TemporaryDirectory) throws -> TestGatehouse {
        try TestGatehouse(directory: directory) { config in
            config.policy.command = "/usr/bin/env"
            config.policy.arguments = ["python3", PluginTestSupport.packageRoot + "/Docs/examples/python-policy/network_policy.py"]
            config.policy.config = ["rules": [["methods": ["GET"], "path": "/api/v1/metrics", "scopes": ["metrics"],
                                               "networks": .array(networks.map { .string($0) })]]]
        }
    }

    @Test func thePythonPolicyDecidesThroughTheHost() async throws {
        let directory = TemporaryDirectory()
        let host = try start(networks: ["10.0.0.0/8"], directory: directory)
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        let denied = try host.metrics(token: token)
        #expect(denied.status == 403)
        #expect(denied.json["error_description"] == "GET /api/v1/metrics is not allowed from 127.0.0.1")
        host.stop()
        let allowing = try start(networks: ["127.0.0.0/8"], directory: directory)
        defer { allowing.stop() }
        #expect(try allowing.metrics(token: token).status == 200)
        // And back to the bundled plugin: the built-in policy allows it too.
        allowing.stop()
        let bundled = try TestGatehouse(directory: directory)
        defer { bundled.stop() }
        #expect(try bundled.metrics(token: token).status == 200)
    }

    @Test func aRefusedPolicyConfigurationIsAClearStartError() throws {
        let directory = TemporaryDirectory()
        do {
            _ = try TestGatehouse(directory: directory) { config in
                config.policy.command = "/usr/bin/env"
                config.policy.arguments = ["python3", PluginTestSupport.packageRoot + "/Docs/examples/python-policy/network_policy.py"]
                config.policy.config = ["rules": [["path": "/x", "scopes": ["a"], "networks": ["not-a-network"]]]]
            }
            Issue.record("a broken policy configuration started")
        } catch {
            #expect("\(error)".contains("rules[0]"), "\(error)")
        }
    }
}
