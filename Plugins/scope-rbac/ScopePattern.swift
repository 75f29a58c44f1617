import PluginProtocol

/// A scope or a pattern over scopes: `metrics` (exact), `metrics:*` (anything starting `metrics:`),
/// `*` (any scope).
struct ScopePattern: Sendable, Equatable, CustomStringConvertible {
    let text: String

    init?(_ text: String) {
        guard Scope.isValid(text) else { return nil }
        // A `*` may only stand alone or end the pattern: `a*b` would be ambiguous to people reading it.
        if let star = text.firstIndex(of: "*"), star != text.index(before: text.endIndex) { return nil }
        self.text = text
    }

    func matches(_ scope: String) -> Bool {
        if text == "*" { return true }
        if text.hasSuffix("*") { return scope.hasPrefix(text.dropLast()) }
        return scope == text
    }

    /// True if this pattern, held as a token scope, satisfies a required scope (which may itself be a pattern).
    func satisfies(_ required: String) -> Bool { matches(required) }

    var description: String { text }
}
