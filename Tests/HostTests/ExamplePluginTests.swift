import Foundation
import PluginProtocol
import Testing
@testable import Host

/// The example plugins under Docs/examples and the documented ways to check a plugin of one's own.
@Suite struct ExamplePluginTests {
    static let examples = ["python-plugin/echo_plugin.py", "python-store/store.py", "python-policy/network_policy.py"]

    /// plugin-protocol.md §8: started by hand in a terminal, a plugin prints what it is and exits 2, like the
    /// Swift plugins do, instead of waiting for JSON forever.
    @Test(arguments: examples)
    func aPythonExampleStartedInATerminalPrintsAHintAndExits2(example: String) throws {
        let result = try runOnTerminal("/usr/bin/env", ["python3", PluginTestSupport.packageRoot + "/Docs/examples/" + example])
        #expect(result.status == 2, "\(example) exited \(result.status) (124: it waited for input): \(result.output)")
        #expect(result.output.contains("Gatehouse") && result.output.contains("GATEHOUSE_PLUGIN_INTERACTIVE=1"), "\(result.output)")
    }

    @Test(arguments: ["gatehouse-sqlite-store", "gatehouse-file-store", "gatehouse-scope-rbac"])
    func aSwiftPluginStartedInATerminalPrintsAHintAndExits2(plugin: String) throws {
        let result = try runOnTerminal(PluginTestSupport.executable(plugin), [])
        #expect(result.status == 2, "\(plugin) exited \(result.status): \(result.output)")
        #expect(result.output.contains("GATEHOUSE_PLUGIN_INTERACTIVE=1"), "\(result.output)")
    }

    @Test func aCommandLineLooksItsFirstWordUpInPath() {
        #expect(PluginCommandLine("python3 my_store.py") == PluginCommandLine(executable: "/usr/bin/env", arguments: ["python3", "my_store.py"]))
        #expect(PluginCommandLine("/opt/store --fast") == PluginCommandLine(executable: "/opt/store", arguments: ["--fast"]))
        #expect(PluginCommandLine("") == nil)
    }

    /// The environment a documented `… swift test --filter …` line sets, evaluated by bash in the package root.
    private func documentedEnvironment(_ page: String, _ variable: String) throws -> [String: String] {
        let line = try DocPage.block(page, "sh", containing: variable).components(separatedBy: "\n")
            .first { $0.contains(variable) } ?? ""
        guard let range = line.range(of: " swift test") else { throw TestFailure("\(page): no swift test command") }
        let assignments = String(line[..<range.lowerBound])
        let result = try shell("export \(assignments)\nenv -0", in: PluginTestSupport.packageRoot)
        var environment: [String: String] = [:]
        for entry in result.output.split(separator: "\0") where entry.hasPrefix("GATEHOUSE_") {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { environment[parts[0]] = parts[1] }
        }
        return environment
    }

    /// stores.md and Tests/README.md: the documented GATEHOUSE_STORE_UNDER_TEST line names a store that starts.
    @Test(arguments: ["Docs/stores.md", "Tests/README.md"])
    func theDocumentedStoreUnderTestStarts(page: String) async throws {
        let environment = try documentedEnvironment(page, "GATEHOUSE_STORE_UNDER_TEST")
        let store = try #require(StoreUnderTest.custom(environment), "\(environment)")
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(store.spec(in: directory.path))
        defer { pool.shutdown() }
        let created = try await pool.call(ClientStore.create, CreateClientParams(client: StoreFixtures.client("doc"),
                                                                                  secret: StoreFixtures.secret))
        #expect(created.client.id == "doc")
    }

    /// writing-a-policy-plugin.md: the documented GATEHOUSE_POLICY_UNDER_TEST line configures the example so
    /// the conformance suite's request is allowed and others are denied.
    @Test func theDocumentedPolicyUnderTestAllowsTheConformanceRequest() async throws {
        let environment = try documentedEnvironment("Docs/writing-a-policy-plugin.md", "GATEHOUSE_POLICY_UNDER_TEST")
        let policy = try #require(PolicyUnderTest.custom(environment), "\(environment)")
        let directory = TemporaryDirectory()
        let pool = try PluginTestSupport.startPool(policy.spec(in: directory.path))
        defer { pool.shutdown() }
        func authorize(_ path: String) async throws -> Bool {
            try await pool.call(Policy.authorize, AuthorizeParams(clientID: "prom", role: "scraper", scopes: ["metrics"],
                                                                  request: .init(method: "GET", path: path, remoteAddress: "127.0.0.1"))).allowed
        }
        #expect(try await authorize("/api/v1/metrics"))
        #expect(try await !authorize("/api/v1/other"))
    }

    /// writing-a-policy-plugin.md §1: the host config that runs the example, with the example's real path for
    /// /opt/gatehouse: the host starts it and its rules decide (loopback is one of the allowed networks).
    @Test func theDocumentedPolicyPluginConfigServes() throws {
        let config = try DocPage.block("Docs/writing-a-policy-plugin.md", "json", containing: "network_policy.py")
            .replacingOccurrences(of: "/opt/gatehouse/network_policy.py", with: PluginTestSupport.packageRoot + "/Docs/examples/python-policy/network_policy.py")
        let gatehouse = try ServedGatehouse(config: config)
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let token = try gatehouse.token(client)
        #expect(try gatehouse.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        #expect(gatehouse.log.contains("network-policy"), "the policy plugin is not the example: \(gatehouse.log.suffix(1500))")
    }
}
