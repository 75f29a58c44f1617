import Foundation
import Testing
@testable import Host

/// The Go and Node client examples of authentication.md §6 against a served Gatehouse, run the way the page
/// says. Each is skipped only when its toolchain is not installed (`scripts/bootstrap --test` installs both).
@Suite struct ClientExampleTests {
    static func onPath(_ name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var goWithOAuth2: Bool {
        onPath("go") != nil && FileManager.default.fileExists(atPath: "/usr/share/gocode/src/golang.org/x/oauth2/clientcredentials")
    }

    /// Runs `command` from the package root with the page's variables for a fresh client; returns the output
    /// and the number of tokens Gatehouse issued to that client.
    private func run(_ command: String, secret: (String) -> String = { $0 }) throws -> (result: ShellResult, tokens: Double) {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "example")
        let home = TemporaryDirectory()
        let result = try shell(command, in: PluginTestSupport.packageRoot,
                               environment: ["GATEHOUSE": gatehouse.url, "CLIENT_ID": client.id, "CLIENT_SECRET": secret(client.secret),
                                             "HOME": home.path, "GOCACHE": home.path + "/go-build"], timeout: .seconds(180))
        let checker = try gatehouse.addClient(name: "checker")
        let tokens = try gatehouse.metric("gatehouse_tokens_issued_total{client_id=\"\(client.id)\"}", as: checker) ?? 0
        return (result, tokens)
    }

    private func documented(_ marker: String) throws -> String {
        try DocPage.block("Docs/authentication.md", "sh", containing: marker)
            .components(separatedBy: "\n").filter { $0.contains(marker) && !$0.contains("apt-get") }.joined(separator: "\n")
    }

    @Test(.enabled(if: goWithOAuth2, "needs golang and golang-golang-x-oauth2-dev"))
    func theGoExampleGetsATokenAndCallsTheAPI() throws {
        let command = try documented("go run")
        let ok = try run(command)
        #expect(ok.result.status == 0, "\(ok.result.output)")
        #expect(ok.result.output.contains("token: type Bearer, expires in 3600s"), "\(ok.result.output)")
        #expect(ok.result.output.contains("metrics: 200 OK"), "\(ok.result.output)")
        #expect(ok.tokens == 1, "the token source fetched \(ok.tokens) tokens for one run")
        let refused = try run(command) { $0 + "x" }
        #expect(refused.result.status != 0 && refused.result.output.contains("invalid_client"), "\(refused.result.output)")
    }

    @Test(.enabled(if: onPath("node") != nil, "needs nodejs"))
    func theNodeExampleGetsATokenOnceAndCallsTheAPI() throws {
        let command = try documented("node ")
        let ok = try run(command)
        #expect(ok.result.status == 0, "\(ok.result.output)")
        #expect(ok.result.output.contains("token: type Bearer, expires in 3600s, scope metrics"), "\(ok.result.output)")
        #expect(ok.result.output.contains("metrics: 200"), "\(ok.result.output)")
        #expect(ok.tokens == 1, "two calls should share one token, got \(ok.tokens)")
        let refused = try run(command) { $0 + "x" }
        #expect(refused.result.status == 1 && refused.result.output.contains("401 invalid_client"), "\(refused.result.output)")
    }
}
