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

    public static func checkSecret(_ secret: String) throws(RPCError) {
        guard secret.utf8.count <= maxSecretLength else { throw RPCError(.weakSecret, "secret longer than \(maxSecretLength) bytes") }
        if let problem = SecretStrength.problem(with: secret) { throw RPCError(.weakSecret, problem) }
    }
}
