/// The methods of a store plugin (Docs/plugin-protocol.md, "Store methods").
///
/// Decisions are results: an unknown client or a wrong secret is `authenticated: false`, not an error.
/// Errors (RPCErrorCode 1000...1999) mean the store could not do what was asked.
public enum ClientStore {
    public static let authenticate = Method<AuthenticateParams, AuthenticateResult>("store.authenticate")
    public static let get = Method<ClientIDParams, GetClientResult>("store.get")
    public static let create = Method<CreateClientParams, ClientResult>("store.create")
    public static let update = Method<UpdateClientParams, ClientResult>("store.update")
    public static let delete = Method<ClientIDParams, DeleteClientResult>("store.delete")
    public static let list = Method<ListClientsParams, ListClientsResult>("store.list")
    public static let rotateSecret = Method<RotateSecretParams, ClientResult>("store.rotateSecret")
    public static let setNotBefore = Method<SetNotBeforeParams, ClientResult>("store.setNotBefore")
    public static let revoke = Method<RevokeParams, Empty>("store.revoke")
    public static let revocations = Method<RevocationsParams, RevocationsResult>("store.revocations")

    public static let allMethods = [authenticate.name, get.name, create.name, update.name, delete.name, list.name,
                                    rotateSecret.name, setNotBefore.name, revoke.name, revocations.name]
}

public struct ClientIDParams: JSONCodable, Equatable {
    public var clientID: String
    public init(clientID: String) { self.clientID = clientID }
    public init(json: JSONValue) throws(JSONShapeError) { clientID = try JSONObjectReader(json, what: "params").string("clientId") }
    public var json: JSONValue { ["clientId": .string(clientID)] }
}

public struct AuthenticateParams: JSONCodable, Equatable {
    public var clientID: String
    public var secret: String
    public init(clientID: String, secret: String) {
        self.clientID = clientID
        self.secret = secret
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        secret = try reader.string("secret")
    }
    public var json: JSONValue { ["clientId": .string(clientID), "secret": .string(secret)] }
}

public struct AuthenticateResult: JSONCodable, Equatable {
    /// Why authentication failed, for audit logs and metrics only: the token endpoint answers every failure
    /// the same way (RFC 6749 §5.2 `invalid_client`). Open set; these are the ones stores send.
    public enum Failure: String, Sendable {
        case unknownClient = "unknown_client"
        case wrongSecret = "wrong_secret"
        case disabled = "disabled"
    }

    public var client: ClientRecord?
    public var failure: String?
    /// How long the host may answer the same client id and secret from memory without asking again (success
    /// only; 0: ask every time). The store bounds it by the matched secret's expiry and sends `invalidate`
    /// when a client changes, so a cached success never outlives a change the store knows of.
    public var cacheTTLMilliseconds: Int64

    public static func success(_ client: ClientRecord, cacheTTLMilliseconds: Int64 = 0) -> AuthenticateResult {
        AuthenticateResult(client: client, failure: nil, cacheTTLMilliseconds: cacheTTLMilliseconds)
    }
    public static func failure(_ reason: Failure) -> AuthenticateResult { AuthenticateResult(client: nil, failure: reason.rawValue) }

    public var authenticated: Bool { client != nil }

    public init(client: ClientRecord?, failure: String?, cacheTTLMilliseconds: Int64 = 0) {
        self.client = client
        self.failure = failure
        self.cacheTTLMilliseconds = client == nil ? 0 : max(0, cacheTTLMilliseconds)
    }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        let authenticated = try reader.bool("authenticated")
        if authenticated {
            let client: ClientRecord = try reader.decode("client")
            try AnswerRules.check(client)
            // A store that says so itself must not authenticate a disabled client (its answer is "disabled").
            guard client.enabled else { throw JSONShapeError("authenticated: true for the disabled client '\(client.id)'") }
            self.client = client
            failure = nil
            cacheTTLMilliseconds = max(0, try reader.optionalInt("cacheTtlMs") ?? 0)
        } else {
            client = nil
            let failure = try reader.optionalString("reason") ?? "unknown"
            try AnswerRules.check(failureCode: failure)
            self.failure = failure
            cacheTTLMilliseconds = 0
        }
    }

    public var json: JSONValue {
        if let client {
            guard cacheTTLMilliseconds > 0 else { return ["authenticated": true, "client": client.json] }
            return ["authenticated": true, "client": client.json, "cacheTtlMs": .int(cacheTTLMilliseconds)]
        }
        return ["authenticated": false, "reason": .string(failure ?? "unknown")]
    }
}

public struct GetClientResult: JSONCodable, Equatable {
    public var client: ClientRecord?
    public init(client: ClientRecord?) { self.client = client }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        if let value = reader.members["client"], !value.isNull {
            let client = try ClientRecord(json: value)
            try AnswerRules.check(client)
            self.client = client
        } else {
            client = nil
        }
    }
    public var json: JSONValue { ["client": client?.json ?? .null] }
}

public struct ClientResult: JSONCodable, Equatable {
    public var client: ClientRecord
    public init(client: ClientRecord) { self.client = client }
    public init(json: JSONValue) throws(JSONShapeError) {
        client = try JSONObjectReader(json, what: "result").decode("client")
        try AnswerRules.check(client)
    }
    public var json: JSONValue { ["client": client.json] }
}

public struct CreateClientParams: JSONCodable, Equatable {
    /// The new client; `createdAt`, `updatedAt` and `secrets` are set by the store.
    public var client: ClientRecord
    /// The first secret, generated by the host (or chosen by the operator and checked for strength).
    /// The store keeps only a salted hash. Nil only for a client created with `publicKeys` or a `jwksUri`,
    /// which has none.
    public var secret: String?
    public init(client: ClientRecord, secret: String?) {
        self.client = client
        self.secret = secret
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        client = try reader.decode("client")
        secret = try reader.optionalString("secret")
        guard secret != nil || client.usesKeys else { throw JSONShapeError("missing field 'secret'") }
    }
    public var json: JSONValue {
        guard let secret else { return ["client": client.json] }
        return ["client": client.json, "secret": .string(secret)]
    }
}

public struct UpdateClientParams: JSONCodable, Equatable {
    public var clientID: String
    public var name: String?
    public var role: String?
    public var allowedScopes: [String]?
    public var defaultScopes: [String]?
    /// Set to 0 to go back to the host's default lifetime.
    public var tokenLifetime: Int64?
    public var enabled: Bool?

    public init(clientID: String) { self.clientID = clientID }

    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        name = try reader.optionalString("name")
        role = try reader.optionalString("role")
        allowedScopes = try reader.optionalStrings("allowedScopes")
        defaultScopes = try reader.optionalStrings("defaultScopes")
        tokenLifetime = try reader.optionalInt("tokenLifetime")
        enabled = try reader.optionalBool("enabled")
    }

    public var json: JSONValue {
        var members: JSONObject = ["clientId": .string(clientID)]
        if let name { members["name"] = .string(name) }
        if let role { members["role"] = .string(role) }
        if let allowedScopes { members["allowedScopes"] = .array(allowedScopes.map { .string($0) }) }
        if let defaultScopes { members["defaultScopes"] = .array(defaultScopes.map { .string($0) }) }
        if let tokenLifetime { members["tokenLifetime"] = .int(tokenLifetime) }
        if let enabled { members["enabled"] = .bool(enabled) }
        return .object(members)
    }
}

public struct DeleteClientResult: JSONCodable, Equatable {
    public var deleted: Bool
    public init(deleted: Bool) { self.deleted = deleted }
    public init(json: JSONValue) throws(JSONShapeError) { deleted = try JSONObjectReader(json, what: "result").bool("deleted") }
    public var json: JSONValue { ["deleted": .bool(deleted)] }
}

public struct ListClientsParams: JSONCodable, Equatable {
    /// Opaque; from a previous result's `nextCursor`.
    public var cursor: String?
    /// 1...1000; default 100.
    public var limit: Int64
    public init(cursor: String? = nil, limit: Int64 = 100) {
        self.cursor = cursor
        self.limit = limit
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        cursor = try reader.optionalString("cursor")
        limit = try reader.optionalInt("limit") ?? 100
        guard (1...1000).contains(limit) else { throw JSONShapeError("field 'limit' must be 1...1000") }
    }
    public var json: JSONValue {
        var members: JSONObject = ["limit": .int(limit)]
        if let cursor { members["cursor"] = .string(cursor) }
        return .object(members)
    }
}

public struct ListClientsResult: JSONCodable, Equatable {
    /// Ordered by id.
    public var clients: [ClientRecord]
    public var nextCursor: String?
    public init(clients: [ClientRecord], nextCursor: String?) {
        self.clients = clients
        self.nextCursor = nextCursor
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        guard let array = reader.members["clients"]?.arrayValue else { throw JSONShapeError("field 'clients' must be an array") }
        var clients: [ClientRecord] = []
        for element in array {
            let client = try ClientRecord(json: element)
            try AnswerRules.check(client)
            clients.append(client)
        }
        self.clients = clients
        nextCursor = try reader.optionalString("nextCursor")
    }
    public var json: JSONValue {
        ["clients": .array(clients.map(\.json)), "nextCursor": nextCursor.map { .string($0) } ?? .null]
    }
}

public struct RotateSecretParams: JSONCodable, Equatable {
    public var clientID: String
    public var secret: String
    /// How long the secrets that verify now keep verifying, in seconds (0: they stop at once).
    public var graceSeconds: Int64
    public init(clientID: String, secret: String, graceSeconds: Int64) {
        self.clientID = clientID
        self.secret = secret
        self.graceSeconds = graceSeconds
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        secret = try reader.string("secret")
        graceSeconds = try reader.optionalInt("graceSeconds") ?? 0
        guard graceSeconds >= 0 else { throw JSONShapeError("field 'graceSeconds' must not be negative") }
    }
    public var json: JSONValue { ["clientId": .string(clientID), "secret": .string(secret), "graceSeconds": .int(graceSeconds)] }
}

public struct SetNotBeforeParams: JSONCodable, Equatable {
    public var clientID: String
    public var notBefore: Int64
    public init(clientID: String, notBefore: Int64) {
        self.clientID = clientID
        self.notBefore = notBefore
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        clientID = try reader.string("clientId")
        notBefore = try reader.int("notBefore")
    }
    public var json: JSONValue { ["clientId": .string(clientID), "notBefore": .int(notBefore)] }
}

public struct RevokeParams: JSONCodable, Equatable {
    /// The token's `jti`.
    public var tokenID: String
    public var clientID: String
    /// The token's `exp`: the store may forget the revocation after it.
    public var expiresAt: Int64
    public init(tokenID: String, clientID: String, expiresAt: Int64) {
        self.tokenID = tokenID
        self.clientID = clientID
        self.expiresAt = expiresAt
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "params")
        tokenID = try reader.string("jti")
        clientID = try reader.string("clientId")
        expiresAt = try reader.int("expiresAt")
    }
    public var json: JSONValue { ["jti": .string(tokenID), "clientId": .string(clientID), "expiresAt": .int(expiresAt)] }
}

public struct RevocationsParams: JSONCodable, Equatable {
    /// Revocations with a sequence number above this; 0 for all that have not expired.
    public var after: Int64
    public init(after: Int64) { self.after = after }
    public init(json: JSONValue) throws(JSONShapeError) { after = try JSONObjectReader(json, what: "params").optionalInt("after") ?? 0 }
    public var json: JSONValue { ["after": .int(after)] }
}

public struct RevocationsResult: JSONCodable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var tokenID: String
        public var expiresAt: Int64
        public init(tokenID: String, expiresAt: Int64) {
            self.tokenID = tokenID
            self.expiresAt = expiresAt
        }
    }
    public var revocations: [Entry]
    /// Pass as `after` next time.
    public var last: Int64
    public init(revocations: [Entry], last: Int64) {
        self.revocations = revocations
        self.last = last
    }
    public init(json: JSONValue) throws(JSONShapeError) {
        let reader = try JSONObjectReader(json, what: "result")
        guard let array = reader.members["revocations"]?.arrayValue else {
            throw JSONShapeError("field 'revocations' must be an array")
        }
        var entries: [Entry] = []
        for element in array {
            let entry = try JSONObjectReader(element, what: "revocation")
            let tokenID = try entry.string("jti")
            try AnswerRules.check(tokenID: tokenID)
            entries.append(Entry(tokenID: tokenID, expiresAt: try entry.int("expiresAt")))
        }
        revocations = entries
        last = try reader.int("last")
    }
    public var json: JSONValue {
        ["revocations": .array(revocations.map { ["jti": .string($0.tokenID), "expiresAt": .int($0.expiresAt)] }),
         "last": .int(last)]
    }
}
