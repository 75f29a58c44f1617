import Glibc
import PluginProtocol

/// Everything that makes a token valid right now, short of the policy: signature, issuer, audience and
/// times; not revoked; its client still exists, is enabled, and has not voided it (`notBefore`).
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
            case .success(let client?) where !client.enabled:
                completion(.invalid("the client of this token is disabled", clientID: token.clientID))
            case .success(let client?) where client.notBefore.map({ token.issuedAt < $0 }) ?? false:
                completion(.invalid("the access token was revoked", clientID: token.clientID))
            case .success(let client?): completion(.valid(token, client))
            }
        }
    }
}
