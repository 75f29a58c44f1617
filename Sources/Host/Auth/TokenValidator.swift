import Glibc
import PluginProtocol

/// Everything that makes a token valid right now, short of the policy: signature, issuer, audience and
/// times; not revoked; its client still exists as the same instance, is enabled, and has not voided it
/// (`notBefore`). A valid token comes back with its scopes narrowed to those the client may hold now, so
/// taking a scope from a client takes it from the client's live tokens at once.
/// Shared by bearer authentication, introspection and revocation so they can never disagree.
struct TokenValidator: Sendable {
    enum Outcome: Sendable {
        case valid(AccessToken, ClientRecord)
        /// Not a valid token; the description is safe to send to the caller.
        case invalid(String, clientID: String?)
        case unavailable(PluginCallError)
    }

    let codec: TokenCodecSource
    let directory: ClientDirectory
    let revocations: RevocationList

    func validate(_ text: Substring, completion: @escaping @Sendable (Outcome) -> Void) {
        let token: AccessToken
        switch codec.verify(text, now: Int64(time(nil))) {
        case .failure(let rejection): return completion(.invalid(rejection.description, clientID: nil))
        case .success(let verified): token = verified
        }
        guard !revocations.isRevoked(token.tokenID) else {
            return completion(.invalid("the access token was revoked", clientID: token.clientID))
        }
        directory.record(token.clientID) { outcome in
            switch outcome {
            case .failure(let error): completion(.unavailable(error))
            case .success(nil): completion(.invalid("the client of this token no longer exists", clientID: token.clientID))
            case .success(let client?) where !Self.belongs(token, to: client):
                completion(.invalid("the client of this token no longer exists", clientID: token.clientID))
            case .success(let client?) where !client.enabled:
                completion(.invalid("the client of this token is disabled", clientID: token.clientID))
            case .success(let client?) where client.notBefore.map({ token.issuedAt < $0 }) ?? false:
                completion(.invalid("the access token was revoked", clientID: token.clientID))
            case .success(let client?): completion(.valid(Self.narrowed(token, to: client), client))
            }
        }
    }

    /// Whether `token` was issued to this instance of its client. A client removed and created again under
    /// the same id has a new `instance`, which its old tokens do not carry. For a store that keeps no
    /// instance, a token older than the client's creation is not its own (whole seconds, so such a store
    /// cannot tell apart a client re-created within the second).
    static func belongs(_ token: AccessToken, to client: ClientRecord) -> Bool {
        if let instance = client.instance { return token.clientInstance == instance }
        return token.clientInstance == nil && token.issuedAt >= client.createdAt
    }

    /// The token's scopes that the client may still hold (`allowedScopes` now, not at issuance).
    static func narrowed(_ token: AccessToken, to client: ClientRecord) -> AccessToken {
        guard !token.scopes.allSatisfy(client.allowedScopes.contains) else { return token }
        var narrowed = token
        narrowed.scopes = token.scopes.filter(client.allowedScopes.contains)
        return narrowed
    }
}
