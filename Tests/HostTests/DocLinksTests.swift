import Foundation
import Testing
@testable import Host

/// Every relative link in the Markdown pages reaches a file, and every `#anchor` a heading of that page (GitHub's
/// anchor rules); plugin-protocol.md's `§N` references name the sections they mean.
@Suite struct DocLinksTests {
    static let pages: [String] = {
        let docs = ((try? FileManager.default.contentsOfDirectory(atPath: PluginTestSupport.packageRoot + "/Docs")) ?? [])
            .filter { $0.hasSuffix(".md") }.map { "Docs/" + $0 }
        return ["README.md", "Tests/README.md"] + docs.sorted()
    }()

    /// GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces to `-`.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { character -> Character? in
            if character == " " { return "-" }
            return character.isLetter || character.isNumber || character == "-" || character == "_" ? character : nil
        })
    }

    static func anchors(of path: String) -> Set<String> {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var inCode = false
        var found: Set<String> = []
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inCode.toggle() }
            guard !inCode, line.hasPrefix("#"), let space = line.firstIndex(of: " ") else { continue }
            found.insert(anchor(String(line[line.index(after: space)...]).trimmingCharacters(in: .whitespaces)))
        }
        return found
    }

    @Test(arguments: pages)
    func relativeLinksReachAFileAndAHeading(page: String) throws {
        let text = try String(contentsOfFile: PluginTestSupport.packageRoot + "/" + page, encoding: .utf8)
        let directory = (page as NSString).deletingLastPathComponent
        let links = AlertRulesTests.matches(#"\]\(([^)\s]+)\)"#, in: text).filter { !$0.contains("://") && !$0.hasPrefix("mailto:") }
        for link in links {
            let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let target = parts[0].isEmpty ? page : (directory.isEmpty ? parts[0] : directory + "/" + parts[0])
            let path = (PluginTestSupport.packageRoot + "/" + target as NSString).standardizingPath
            guard FileManager.default.fileExists(atPath: path) else {
                Issue.record("\(page): \(link) points at a missing file")
                continue
            }
            if parts.count == 2, path.hasSuffix(".md"), !Self.anchors(of: path).contains(parts[1]) {
                Issue.record("\(page): \(link) names no heading of \(target)")
            }
        }
    }

    @Test func pluginProtocolSectionReferencesNameTheirSections() throws {
        let text = try String(contentsOfFile: PluginTestSupport.packageRoot + "/Docs/plugin-protocol.md", encoding: .utf8)
        var sections: [String: String] = [:]
        for line in text.components(separatedBy: "\n") where line.hasPrefix("## ") {
            let title = line.dropFirst(3)
            if let dot = title.firstIndex(of: ".") { sections[String(title[..<dot])] = String(title[title.index(after: dot)...]) }
        }
        for (context, title) in [("store errors (§", "Store methods"), ("policy errors (§", "Policy methods"), ("Logs go to stderr (§", "Logs")] {
            let numbers = AlertRulesTests.matches(NSRegularExpression.escapedPattern(for: context) + "([0-9]+)\\)", in: text)
            #expect(!numbers.isEmpty, "plugin-protocol.md lost '\(context)…'")
            for number in numbers {
                #expect(sections[number]?.contains(title) == true, "'\(context)\(number))' points at §\(number) \(sections[number] ?? "(none)"), not \(title)")
            }
        }
    }
}
