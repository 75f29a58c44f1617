/// The protocol's rules for what plugins hold and answer (Docs/plugin-protocol.md §9 and §10), in one place:
/// stores apply them before they write a client, and the host checks every answer against them as it decodes
/// it, so an answer that breaks one is a failed call and the host fails closed. The host never acts on an id
/// that could escape a path or a log field, a scope that could break out of a quoted header, or a success for
/// a client the store itself says is disabled.
public enum AnswerRules {
    public static let maxNameLength = 200
    public static let maxScopes = 100
    public static let maxTokenLifetime: Int64 = 31_536_000

    /// The first rule `client` breaks, worded for the operator who sent it (it becomes a 1006 message in the
    /// stores), or nil.
    public static func violation(_ client: ClientRecord) -> String? {
        guard ClientID.isValid(client.id) else {
            return "client id must be 1-128 characters of A-Z a-z 0-9 . _ ~ - and start with a letter or digit"
        }
        guard client.name.unicodeScalars.count <= maxNameLength, !client.name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            return "name must be at most \(maxNameLength) characters without control characters"
        }
        guard client.role.isEmpty || Scope.isValid(client.role) else { return "role must be printable ASCII without spaces or quotes" }
        if let problem = violation(scopes: client.allowedScopes) ?? violation(scopes: client.defaultScopes) { return problem }
        if let extra = client.defaultScopes.first(where: { !client.allowedScopes.contains($0) }) {
            return "default scope '\(extra)' is not among the allowed scopes"
        }
        if let lifetime = client.tokenLifetime, !(1...maxTokenLifetime).contains(lifetime) {
            return "token lifetime must be 1 to \(maxTokenLifetime) seconds"
        }
        if let instance = client.instance, !ClientInstance.isValid(instance) {
            return "instance must be 1-64 characters of A-Z a-z 0-9 _ -"
        }
        return nil
    }

    /// RFC 6749 §3.3 scope tokens, at most `maxScopes` of them.
    public static func violation(scopes: [String]) -> String? {
        guard scopes.count <= maxScopes else { return "at most \(maxScopes) scopes" }
        guard let bad = scopes.first(where: { !Scope.isValid($0) }) else { return nil }
        return "invalid scope '\(ReasonText.safe(bad, limit: 64))' (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)"
    }

    /// The host's check of a client record a store answered with.
    static func check(_ client: ClientRecord) throws(JSONShapeError) {
        if let problem = violation(client) { throw JSONShapeError("client '\(ReasonText.safe(client.id, limit: 64))': \(problem)") }
    }

    static func check(scopes: [String], _ what: String) throws(JSONShapeError) {
        if let problem = violation(scopes: scopes) { throw JSONShapeError("\(what): \(problem)") }
    }

    /// `reason` of a failed `store.authenticate`: a short code (`unknown_client`, …), since it becomes a metric
    /// label and an audit field.
    static func check(failureCode: String) throws(JSONShapeError) {
        let valid = (1...40).contains(failureCode.utf8.count)
            && failureCode.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_") }
        guard valid else { throw JSONShapeError("reason must be a code of 1-40 characters a-z and _") }
    }
}

/// A client instance (`ClientRecord.instance`): base64url characters, so it needs no escaping in a JWT claim.
public enum ClientInstance {
    public static func isValid(_ instance: String) -> Bool {
        (1...64).contains(instance.utf8.count) && instance.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

/// Text a plugin wrote for people (`reason`), made safe wherever the host repeats it: RFC 6749 §5.2 and
/// RFC 6750 §3 allow only %x20-21 / %x23-5B / %x5D-7E in `error_description`, so every other character
/// (quotes, backslashes, controls, non-ASCII) becomes `?`, and the text is cut at `limit` characters. A
/// reason is not refused for its characters: a denial must stay a denial, not become a 503.
public enum ReasonText {
    public static let maxLength = 300

    public static func safe(_ text: String, limit: Int = maxLength) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(text.utf8.count, limit))
        for scalar in text.unicodeScalars.prefix(limit) {
            let value = scalar.value
            let allowed = value == 0x20 || value == 0x21 || (0x23...0x5B).contains(value) || (0x5D...0x7E).contains(value)
            bytes.append(allowed ? UInt8(value) : UInt8(ascii: "?"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when `safe` would return `text` unchanged (cheap: the common case allocates nothing).
    public static func isSafe(_ text: String, limit: Int = maxLength) -> Bool {
        text.utf8.count <= limit && text.utf8.allSatisfy { $0 == 0x20 || $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }
}
