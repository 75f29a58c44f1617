/// Client assertions' `jti`s, remembered by the store so that an assertion accepted by one host is refused by
/// every other host sharing the store, and after a restart (RFC 7523 §3 item 7: the server "MAY ensure that
/// JWTs are not replayed by maintaining the set of used 'jti' values for the length of time for which the JWT
/// would be considered valid"; OIDC Core §9 makes that a one-time use). Docs/plugin-protocol.md, "Used
/// assertions".
///
/// Optional: a store that does not list `store.consumeAssertion` leaves the host with its own in-memory cache
/// (one host, and forgotten when it restarts).
public enum AssertionReplays {
    /// Records the `jti` unless the client already used it in an assertion that has not expired.
    public static let consume = Method<ConsumeAssertionParams, ConsumeAssertionResult>("store.consumeAssertion")

    public static let allMethods = [consume.name]

    /// Longer `jti`s are refused before they reach a store: a row's key stays small.
    public static let maxTokenIDLength = 256

    /// The furthest in the future an entry may expire: the longest assertion lifetime the host admits (a day,
    /// `client_assertions.max_lifetime_seconds`) plus the largest clock skew (300 s), with a minute to spare. A
    /// store refuses more, so nobody fills it with entries that never leave.
    public static let maxRetention: Int64 = 86_400 + 300 + 60

    /// 1-256 UTF-8 bytes without control characters (none is any use in an id, and PostgreSQL text holds no NUL).
    public static func isValidTokenID(_ id: String) -> Bool {
        (1...maxTokenIDLength).contains(id.utf8.count) && !id.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

public struct ConsumeAssertionParams: JSONCodable, Equatable {
    public var clientID: String
    public var tokenID: String
    /// Unix seconds until which the entry is kept: the assertion's `exp` plus the host's clock skew.
    public var expiresAt: Int64

    public init(clientID: String, tokenID: String, expiresAt: Int64) {
        self.clientID = clientID
        self.tokenID = tokenID
        self.expiresAt = expiresAt
    }

    /// Bounded here, so a store never stores an id it could not key a row by.
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        tokenID = try reader.string("jti")
        expiresAt = try reader.int("expiresAt")
        guard ClientID.isValid(clientID) else { throw JSONShapeError("clientId is not a client id") }
        guard AssertionReplays.isValidTokenID(tokenID) else {
            throw JSONShapeError("jti must be 1-\(AssertionReplays.maxTokenIDLength) bytes without control characters")
        }
    }

    public var json: JSONValue { ["clientId": .string(clientID), "jti": .string(tokenID), "expiresAt": .int(expiresAt)] }
}

public struct ConsumeAssertionResult: JSONCodable, Equatable {
    /// `fresh`: recorded now, the assertion may be accepted. `replayed`: the client used this `jti` before in an
    /// assertion that has not expired; refuse it.
    public enum Outcome: String, Sendable {
        case fresh
        case replayed
    }

    public var outcome: Outcome

    public init(_ outcome: Outcome) { self.outcome = outcome }

    /// Anything but the two outcomes is a broken answer (AnswerRules): the call fails and the host fails closed.
    public init(json: JSONValue) throws(JSONShapeError) {
        let text = try JSONObjectReader(json, what: "result").string("outcome")
        outcome = try AnswerRules.check(assertionOutcome: text)
    }

    public var json: JSONValue { ["outcome": .string(outcome.rawValue)] }
}
