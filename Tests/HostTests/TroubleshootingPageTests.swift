import Foundation
import Testing
@testable import Host

/// troubleshooting.md quotes log lines and error texts; each must still be one the code emits, or the page
/// sends an operator looking for a line that no longer exists.
@Suite struct TroubleshootingPageTests {
    /// The Swift sources of the host and the bundled plugins, as one text.
    static func sources() throws -> String {
        var text = ""
        for folder in ["Sources", "Plugins"] {
            let root = PluginTestSupport.packageRoot + "/" + folder
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            for case let path as String in walker where path.hasSuffix(".swift") {
                text += (try? String(contentsOfFile: root + "/" + path, encoding: .utf8)) ?? ""
            }
        }
        return text
    }

    /// The literal part of a quoted text: up to an ellipsis or a number (both stand for interpolations).
    static func literalPrefix(_ quoted: String) -> String {
        let end = quoted.firstIndex { $0 == "…" || $0.isNumber } ?? quoted.endIndex
        return String(quoted[..<end]).trimmingCharacters(in: .whitespaces)
    }

    @Test func everyQuotedLogLineAndErrorIsOneTheCodeEmits() throws {
        let page = try String(contentsOfFile: PluginTestSupport.packageRoot + "/Docs/troubleshooting.md", encoding: .utf8)
        let sources = try Self.sources()
        let messages = AlertRulesTests.matches(#""msg":"([^"]+)""#, in: page)
        #expect(messages.count >= 20, "the page lost its log lines")
        let descriptions = AlertRulesTests.matches(#"`(?:error_description=")?(the (?:access token|client of this token)[^`"]*)"#, in: page)
        #expect(descriptions.count >= 8, "the page lost its token errors")
        for quoted in messages + descriptions {
            let literal = Self.literalPrefix(quoted)
            if literal.isEmpty || !sources.contains(literal) { Issue.record("\"\(quoted)\" is not in Sources/ or Plugins/ any more") }
        }
        let reasons = AlertRulesTests.matches(#"\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|"#, in: page)
        let operations = try String(contentsOfFile: PluginTestSupport.packageRoot + "/Docs/operations.md", encoding: .utf8)
        for reason in reasons { #expect(operations.contains("`\(reason)`"), "oauth.reason '\(reason)' is not documented in operations.md") }
    }
}
