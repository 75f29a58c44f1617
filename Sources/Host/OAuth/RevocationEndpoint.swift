import Glibc
import PluginProtocol

/// `POST /api/v1/oauth/revoke` (RFC 7009). A client revokes one of its own access tokens; the token stops
/// working at once on this host, and on every host sharing the store within their revocation sync interval.
struct RevocationEndpoint: Sendable {
    let authenticator: ClientAuthenticator
    let codec: TokenCodecSource
    let revocations: RevocationList
    let store: any PluginEndpoint
    let logger: Logger

    func handle(_ request: HTTPRequest, context: RequestContext, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        authenticator.authenticateTokenRequest(request, context: context, route: Router.revokePath, completion: completion) {
            tokenText, client in revoke(tokenText, by: client, context: context, completion)
        }
    }

    private func revoke(_ tokenText: String, by client: ClientRecord, context: RequestContext,
                        _ completion: @escaping @Sendable (HTTPResponse) -> Void)
    {
        // §2.2: an invalid, expired or unknown token is answered 200 too; there is nothing to revoke.
        guard case .success(let token) = codec.verify(tokenText[...], now: Int64(time(nil))) else {
            return completion(Self.ok)
        }
        guard token.clientID == client.id else {
            // §2.1: the server verifies the token was issued to the client making the request.
            return completion(OAuthError(code: "unauthorized_client", description: "the token was not issued to this client",
                                         status: 400, auditReason: "foreign_token").response)
        }
        revocations.add(token.tokenID, expiresAt: token.expiresAt)
        store.call(ClientStore.revoke, RevokeParams(tokenID: token.tokenID, clientID: client.id, expiresAt: token.expiresAt)) { outcome in
            if case .failure(let error) = outcome {
                // Revoked here already; other hosts learn of it only once the store has it: say so and let the client retry.
                logger.warning("revocation not stored", ["error": .string(error.description), "oauth.jti": .string(token.tokenID)])
                return completion(OAuthError.unavailable("store_unavailable").response)
            }
            logger.info("token revoked", ["audit": "token.revoked", "oauth.client_id": .string(client.id),
                                          "oauth.jti": .string(token.tokenID), "net.peer": .string(context.remoteAddress)])
            completion(Self.ok)
        }
    }

    static let ok = HTTPResponse(status: 200, headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
}
