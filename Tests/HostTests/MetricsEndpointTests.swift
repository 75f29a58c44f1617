import Foundation
import PluginProtocol
import Testing
@testable import Host

@Suite struct MetricsEndpointTests {
    @Test func exposesTheDocumentedFamiliesAndPassesPromtool() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        _ = try host.tokenRequest(id: "prom", secret: StoreFixtures.otherSecret)
        _ = try host.tokenRequest(id: "ghost", secret: StoreFixtures.secret)
        let body = try host.metrics(token: try host.token(id: "prom")).body
        for expected in [
            #"gatehouse_tokens_issued_total{client_id="prom"} 1"#,
            #"gatehouse_token_requests_refused_total{reason="wrong_secret",client_id="prom"} 1"#,
            #"gatehouse_token_requests_refused_total{reason="unknown_client",client_id=""} 1"#,
            #"gatehouse_http_requests_total{route="/api/v1/oauth/token",method="POST",status="200"} 1"#,
            #"gatehouse_plugin_calls_total{plugin="store",method="store.authenticate",outcome="ok"} 3"#,
            #"gatehouse_plugin_up{plugin="store"} 1"#, #"gatehouse_plugin_up{plugin="policy"} 1"#,
            #"gatehouse_plugin_restarts_total{plugin="store"} 0"#,
            #"gatehouse_build_info{version="\#(BuildInfo.version)"} 1"#,
            "# TYPE gatehouse_http_request_duration_seconds histogram",
            "# TYPE gatehouse_plugin_call_duration_seconds histogram",
            "process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ", "process_start_time_seconds ",
        ] {
            #expect(body.contains(expected), "missing: \(expected)")
        }
        #expect(!body.contains("ghost"), "an unknown client id became a label")
        let start = try #require(body.split(separator: "\n").first { $0.hasPrefix("process_start_time_seconds ") })
        let started = try #require(Double(start.split(separator: " ")[1]))
        #expect(abs(started - Date().timeIntervalSince1970) < 3600)
        let check = try runPromtool(body)
        #expect(check.status == 0, "promtool: \(check.output)")
    }

    @Test func labelValuesAndHelpAreEscaped() {
        let registry = MetricsRegistry()
        let family = registry.counter("test_total", help: "help with \\ and\nnewline", labels: ["v"])
        family.increment(["quote \" backslash \\ newline \n"])
        let text = registry.render()
        #expect(text.contains(#"# HELP test_total help with \\ and\nnewline"#))
        #expect(text.contains(#"test_total{v="quote \" backslash \\ newline \n"} 1"#))
    }

    private func runPromtool(_ text: String) throws -> (status: Int32, output: String) {
        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure("promtool not found: install the Debian package 'prometheus' (.ci/run does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
