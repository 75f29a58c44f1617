import CryptoPrimitives
import PluginProtocol

/// Field rules every store applies, so a client is valid whichever store holds it.
public enum ClientValidation {
    public static let maxNameLength = AnswerRules.maxNameLength
    public static let maxScopes = AnswerRules.maxScopes
    public static let maxTokenLifetime = AnswerRules.maxTokenLifetime
    /// Longer secrets are never valid: refuse them before hashing anything large.
    public static let maxSecretLength = 512

    /// The protocol's rules (`AnswerRules`): the same ones the host checks every answer against.
    public static func validate(_ client: ClientRecord) throws(RPCError) {
        if let problem = AnswerRules.violation(client) { throw RPCError(.invalidClient, problem) }
    }

    /// The shape of a client's public keys (the host checks that they parse as keys before sending them):
    /// a valid `kid`, unique on the client; an algorithm from the allow-list and a `kty` that fits it;
    /// at most `ClientKeys.maxKeysPerClient`.
    public static func validate(keys: [PublicKeyInfo]) throws(RPCError) {
        guard keys.count <= ClientKeys.maxKeysPerClient else {
            throw RPCError(.invalidClient, "at most \(ClientKeys.maxKeysPerClient) public keys per client")
        }
        var seen: Set<String> = []
        for key in keys {
            guard ClientID.isValid(key.keyID) else {
                throw RPCError(.invalidClient, "key id must be 1-128 characters of A-Z a-z 0-9 . _ ~ - and start with a letter or digit")
            }
            guard seen.insert(key.keyID).inserted else { throw RPCError(.invalidClient, "key id '\(key.keyID)' is already registered") }
            guard let kty = allowedKeyTypes[key.algorithm] else {
                throw RPCError(.invalidClient, "key algorithm must be RS256, ES256 or EdDSA")
            }
            guard key.jwk["kty"] == kty else { throw RPCError(.invalidClient, "a \(key.algorithm) key needs kty \(kty)") }
        }
    }

    /// RFC 7518 §3.1, RFC 8037 §3.1: the asymmetric algorithms, with their JWK key types. No HMAC: a public
    /// key is not a secret.
    public static let allowedKeyTypes = ["RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"]

    public static func checkSecret(_ secret: String) throws(RPCError) {
        guard secret.utf8.count <= maxSecretLength else { throw RPCError(.weakSecret, "secret longer than \(maxSecretLength) bytes") }
        if let problem = SecretStrength.problem(with: secret) { throw RPCError(.weakSecret, problem) }
    }
}
