import CryptoPrimitives
import PluginProtocol

/// Field rules every store applies, so a client is valid whichever store holds it.
public enum ClientValidation {
    public static let maxNameLength = 200
    public static let maxScopes = 100
    public static let maxTokenLifetime: Int64 = 31_536_000
    /// Longer secrets are never valid: refuse them before hashing anything large.
    public static let maxSecretLength = 512

    public static func validate(_ client: ClientRecord) throws(RPCError) {
        guard ClientID.isValid(client.id) else {
            throw RPCError(.invalidClient, "client id must be 1-128 characters of A-Z a-z 0-9 . _ ~ - and start with a letter or digit")
        }
        guard client.name.unicodeScalars.count <= maxNameLength, !client.name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw RPCError(.invalidClient, "name must be at most \(maxNameLength) characters without control characters")
        }
        guard client.role.isEmpty || Scope.isValid(client.role) else {
            throw RPCError(.invalidClient, "role must be printable ASCII without spaces or quotes")
        }
        for scopes in [client.allowedScopes, client.defaultScopes] {
            guard scopes.count <= maxScopes else { throw RPCError(.invalidClient, "at most \(maxScopes) scopes") }
            if let bad = scopes.first(where: { !Scope.isValid($0) }) {
                throw RPCError(.invalidClient, "invalid scope '\(bad.prefix(64))' (RFC 6749 §3.3: printable ASCII, no spaces, quotes or backslashes)")
            }
        }
        if let extra = client.defaultScopes.first(where: { !client.allowedScopes.contains($0) }) {
            throw RPCError(.invalidClient, "default scope '\(extra)' is not among the allowed scopes")
        }
        if let lifetime = client.tokenLifetime, !(1...maxTokenLifetime).contains(lifetime) {
            throw RPCError(.invalidClient, "token lifetime must be 1 to \(maxTokenLifetime) seconds")
        }
    }

    public static func checkSecret(_ secret: String) throws(RPCError) {
        guard secret.utf8.count <= maxSecretLength else { throw RPCError(.weakSecret, "secret longer than \(maxSecretLength) bytes") }
        if let problem = SecretStrength.problem(with: secret) { throw RPCError(.weakSecret, problem) }
    }
}
