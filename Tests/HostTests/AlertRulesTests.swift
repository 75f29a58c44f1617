import Foundation
import PluginProtocol
import Testing
@testable import Host

/// contrib/prometheus's alert rules and contrib/grafana's dashboard: they parse, the alerts fire when they
/// should (promtool's rule unit tests), and every metric and label they name is one Gatehouse really serves
/// and operations.md documents.
@Suite struct AlertRulesTests {
    static let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let rules = PluginTestSupport.packageRoot + "/contrib/prometheus/gatehouse-alerts.yml"
    static let dashboard = PluginTestSupport.packageRoot + "/contrib/grafana/gatehouse-dashboard.json"

    private func promtool() throws -> String {
        try #require(Self.promtool, "promtool not found: install the Debian package 'prometheus' (scripts/bootstrap --test does)")
    }

    @Test func theAlertRulesPassPromtoolCheckAndTheirUnitTests() throws {
        let promtool = try promtool()
        let check = try shell("'\(promtool)' check rules gatehouse-alerts.yml", in: PluginTestSupport.packageRoot + "/contrib/prometheus")
        #expect(check.status == 0 && check.output.contains("SUCCESS"), "\(check.output)")
        let unit = try shell("'\(promtool)' test rules gatehouse-alerts.test.yml", in: PluginTestSupport.packageRoot + "/contrib/prometheus")
        #expect(unit.status == 0 && unit.output.contains("SUCCESS"), "\(unit.output)")
    }

    /// The dashboard's expressions, with Grafana's variables given values Prometheus accepts.
    static func dashboardExpressions() throws -> [String] {
        let json = try JSONParser.parse(try String(contentsOfFile: dashboard, encoding: .utf8))
        let panels = json["panels"]?.arrayValue ?? []
        return panels.flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
    }

    @Test func theDashboardIsWhatItsGeneratorWritesAndEveryExpressionParses() throws {
        let directory = TemporaryDirectory()
        let generated = try shell("python3 contrib/grafana/make-dashboard.py '\(directory.path)/dashboard.json'", in: PluginTestSupport.packageRoot)
        #expect(generated.status == 0, "\(generated.output)")
        #expect(try String(contentsOfFile: directory.path + "/dashboard.json", encoding: .utf8) == String(contentsOfFile: Self.dashboard, encoding: .utf8),
                "gatehouse-dashboard.json is not what make-dashboard.py writes: run it and commit both")
        let expressions = try Self.dashboardExpressions()
        #expect(expressions.count >= 20, "the dashboard lost its panels")
        // promtool parses PromQL only inside rule files: each expression becomes a recording rule.
        var file = "groups:\n  - name: dashboard\n    rules:\n"
        for (index, expression) in expressions.enumerated() {
            let concrete = expression.replacingOccurrences(of: "$__rate_interval", with: "5m")
                .replacingOccurrences(of: "$instance", with: ".*").replacingOccurrences(of: "$job", with: "gatehouse")
            file += "      - record: dashboard:expr\(index)\n        expr: '\(concrete.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        try file.write(toFile: directory.path + "/dashboard-rules.yml", atomically: true, encoding: .utf8)
        let check = try shell("'\(try promtool())' check rules dashboard-rules.yml", in: directory.path)
        #expect(check.status == 0 && check.output.contains("SUCCESS: \(expressions.count) rules found"), "\(check.output)")
    }

    /// Metric names and the labels each is filtered or grouped by, from PromQL text (good enough for ours).
    static func references(in expression: String) -> [(metric: String, labels: [String])] {
        var found: [(String, [String])] = []
        let groupings = matches(#"by \(([a-z_, ]+)\)"#, in: expression).flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        for selector in matches(#"((?:gatehouse|process)_[a-z_]+)(\{[^}]*\})?"#, in: expression, group: 0) {
            let name = matches(#"^[a-z_]+"#, in: selector, group: 0).first ?? selector
            let matchers = matches(#"([a-z_]+)\s*[=!]~?\s*""#, in: selector)
            found.append((name, matchers + groupings))
        }
        return found
    }

    static func matches(_ pattern: String, in text: String, group: Int = 1) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    @Test func everyMetricAndLabelTheyNameIsServedAndDocumented() throws {
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "prometheus")
        let token = try gatehouse.token(client)
        let served = try gatehouse.get("/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")]).body
        let families = Set(Self.matches(#"# TYPE ([a-z_]+) "#, in: served))
        // operations.md's table: metric -> its documented labels.
        let operations = try String(contentsOfFile: PluginTestSupport.packageRoot + "/Docs/operations.md", encoding: .utf8)
        var documented: [String: Set<String>] = [:]
        for line in operations.components(separatedBy: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            let labels = Set(Self.matches("`([a-z_]+)`", in: cells[2]))
            for metric in Self.matches("`([a-z_]+)`", in: cells[0]) { documented[metric] = labels }
        }
        let rules = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let ruleExpressions = Self.matches(#"expr: \|?\s*([^\n]+(?:\n {12}[^\n]+)*)"#, in: rules)
        #expect(ruleExpressions.count >= 10, "the rules lost their expressions")
        for expression in ruleExpressions + (try Self.dashboardExpressions()) {
            for reference in Self.references(in: expression) {
                let family = reference.metric.replacingOccurrences(of: #"_(bucket|sum|count)$"#, with: "", options: .regularExpression)
                #expect(families.contains(family), "\(reference.metric) is not served: \(expression)")
                let allowed = (documented[family] ?? []).union(["job", "instance", "le"])
                #expect(documented[family] != nil, "\(family) is not in operations.md's metrics table")
                for label in reference.labels where !allowed.contains(label) {
                    Issue.record("\(family) has no documented label '\(label)': \(expression)")
                }
            }
        }
    }
}
