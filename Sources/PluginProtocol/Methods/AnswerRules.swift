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
        if let url = client.jwksURI {
            if let problem = JWKSetURL.violation(url) { return problem }
            // Two sources of keys would leave "which key is the client's" to whichever the host reads first.
            guard client.publicKeys.isEmpty else { return "a client has registered public keys or a jwks uri, not both" }
        }
        return nil
    }

    /// RFC 6749 §3.3 scope tokens, at most `maxScopes` of them.
    public static func violation(scopes: [String]) -> String? {
        guard scopes.count <= maxScopes else { return "at most \(maxScopes) scopes" }
        guard let bad = scopes.first(where: { !Scope.isValid($0) }) else { return nil }
        return "invalid scope '\(bad.prefix(64))' (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)"
    }

    /// The host's check of a client record a store answered with.
    static func check(_ client: ClientRecord) throws(JSONShapeError) {
        if let problem = violation(client) { throw JSONShapeError("client '\(client.id.prefix(64))': \(problem)") }
    }

    static func check(scopes: [String], _ what: String) throws(JSONShapeError) {
        if let problem = violation(scopes: scopes) { throw JSONShapeError("\(what): \(problem)") }
    }

    /// `jti` of a revocation: hosts sign 22 base64url characters; anything long or with spaces, quotes or
    /// controls is no token id of ours.
    static func check(tokenID: String) throws(JSONShapeError) {
        guard tokenID.utf8.count <= 128, Scope.isValid(tokenID) else { throw JSONShapeError("jti must be 1-128 printable characters") }
    }

    /// `outcome` of `store.consumeAssertion`: exactly `fresh` or `replayed`. A store that answers anything else
    /// has not said the assertion is new, and the host must not accept it.
    static func check(assertionOutcome: String) throws(JSONShapeError) -> ConsumeAssertionResult.Outcome {
        guard let outcome = ConsumeAssertionResult.Outcome(rawValue: assertionOutcome) else {
            throw JSONShapeError("outcome must be \"fresh\" or \"replayed\"")
        }
        return outcome
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
