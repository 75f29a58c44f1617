import Foundation
import PluginProtocol

/// How clients are shown: tables and details for people, JSON for scripts.
enum ClientOutput {
    /// snake_case throughout, and `null` for anything unset (a client without a role has `"role": null`),
    /// never the plugin wire's camelCase or an empty string.
    static func json(_ client: ClientRecord, secret: String? = nil) -> JSONValue {
        var members: [String: JSONValue] = [
            "client_id": .string(client.id), "name": .string(client.name), "role": client.role.isEmpty ? .null : .string(client.role),
            "scopes": .array(client.allowedScopes.map { .string($0) }),
            "default_scopes": .array(client.defaultScopes.map { .string($0) }),
            "enabled": .bool(client.enabled), "created_at": .int(client.createdAt), "updated_at": .int(client.updatedAt),
            "token_lifetime": client.tokenLifetime.map { .int($0) } ?? .null,
            "last_used_at": client.lastUsedAt.map { .int($0) } ?? .null,
            "secrets": .array(client.secrets.map { secret in
                ["created_at": .int(secret.createdAt), "expires_at": secret.expiresAt.map { .int($0) } ?? .null]
            }),
        ]
        members["auth_method"] = .string(client.authenticationMethod)
        if !client.publicKeys.isEmpty {
            members["public_keys"] = .array(client.publicKeys.map { key in
                ["kid": .string(key.keyID), "alg": .string(key.algorithm), "created_at": .int(key.createdAt)]
            })
        }
        // The method says private_key_jwt for both kinds of secretless client; this says where the keys are.
        if let url = client.jwksURI { members["jwks_uri"] = .string(url) }
        if let secret { members["client_secret"] = .string(secret) }
        return .object(members)
    }

    static func scopes(_ client: ClientRecord) -> String {
        let allowed = client.allowedScopes.isEmpty ? "(none)" : client.allowedScopes.joined(separator: " ")
        return "\(allowed) (default: \(client.defaultScopes.isEmpty ? "none" : client.defaultScopes.joined(separator: " ")))"
    }

    /// `client add` for a client without a secret; `authMethod` says which keys it signs with.
    static func createdWithoutSecret(_ client: ClientRecord, authMethod: String) -> String {
        """
        Created client \(client.id) (\(client.name)) with no secret
          client_id:     \(client.id)
          auth method:   private_key_jwt, jwt-bearer grant (\(authMethod))
          scopes:        \(scopes(client))

        """
    }

    static func details(_ client: ClientRecord) -> String {
        var lines = [
            "client_id:   \(client.id)",
            "name:        \(client.name)",
            "role:        \(client.role.isEmpty ? "(none)" : client.role)",
            "scopes:      \(scopes(client))",
            "enabled:     \(client.enabled ? "yes" : "no")",
            "auth method: \(method(client))",
            "token ttl:   \(client.tokenLifetime.map { "\($0) s" } ?? "server default")",
            "created:     \(date(client.createdAt))",
            "last used:   \(client.lastUsedAt.map(date) ?? "never")",
        ]
        for (index, secret) in client.secrets.enumerated() {
            lines.append("secret \(index + 1):    created \(date(secret.createdAt))" + (secret.expiresAt.map { ", expires \(date($0))" } ?? ""))
        }
        for key in client.publicKeys {
            lines.append("public key:  \(key.keyID) (\(key.algorithm)), added \(date(key.createdAt))")
        }
        if let url = client.jwksURI { lines.append("jwks uri:    \(url)") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func method(_ client: ClientRecord) -> String {
        if client.jwksURI != nil { return "private_key_jwt (keys fetched from its jwks uri, no secret)" }
        if !client.publicKeys.isEmpty { return "private_key_jwt (public keys, no secret)" }
        return client.secrets.isEmpty ? "none (no secret, no key: cannot authenticate)" : "client secret"
    }

    /// `clients` as rows under a header (when `header`); columns as wide as this batch needs.
    static func table(_ clients: [ClientRecord], header: Bool = true) -> String {
        guard !clients.isEmpty else { return "No clients. Create one with: gatehouse client add --name NAME --scope metrics\n" }
        let formatter = ISO8601DateFormatter()  // one per batch: making one per row dominated a long list
        let body = clients.map {
            [$0.id, $0.name, $0.role.isEmpty ? "-" : $0.role, $0.allowedScopes.joined(separator: " "), $0.enabled ? "yes" : "no",
             $0.lastUsedAt.map { formatter.string(from: Date(timeIntervalSince1970: TimeInterval($0))) } ?? "never"]
        }
        let titles = ["CLIENT ID", "NAME", "ROLE", "SCOPES", "ENABLED", "LAST USED"]
        let widths = (0..<titles.count).map { column in ([titles] + body).map { $0[column].count }.max() ?? 0 }
        return ((header ? [titles] : []) + body).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    /// A page of `client list --json`: the opening bracket with the first page, then the page's elements as
    /// `JSONWriter.pretty` writes an array's, so the pages together print exactly the one array (closed by
    /// the caller).
    static func jsonArrayPart(_ clients: [ClientRecord], first: Bool) -> String {
        let opening = first ? "[" : ""
        guard !clients.isEmpty else { return opening }
        // pretty(array) is "[\n" + elements at one level of indentation + "\n]\n".
        let whole = JSONWriter.pretty(.array(clients.map { json($0) }))
        let elements = whole.dropFirst(2).dropLast(3)
        return opening + (first ? "\n" : ",\n") + elements
    }

    static func date(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
