import PluginProtocol

/// What `client add --public-key` and `client add --jwks-uri` share: the record, a check that the store kept
/// the way in (a store that does not know the field drops it), and the printout.
extension ClientCommand {
    /// `client add --ttl`, as the usage error a bad value is.
    static func tokenLifetime(_ arguments: CommandLineArguments) -> Result<Int64?, CLIError> {
        do {
            return .success(try arguments.integer("ttl", in: 1...31_536_000))
        } catch {
            return .failure(CLIError(.usage, error.description))
        }
    }

    /// The client `client add` asks the store to create, from the options every kind of client takes.
    static func newClient(name: String, scopes: [String], lifetime: Int64?, _ arguments: CommandLineArguments) -> ClientRecord {
        ClientRecord(id: arguments.value("id") ?? generatedID(from: name), name: name, role: arguments.value("role") ?? "",
                     allowedScopes: scopes, defaultScopes: arguments.value("default-scope").map { words($0) } ?? scopes,
                     tokenLifetime: lifetime, enabled: true, createdAt: 0, updatedAt: 0)
    }

    /// Creates `client`, which has no secret; when the store's answer shows it did not keep the keys
    /// (`kept` is false), the client is removed again, since it could never authenticate, and `unsupported`
    /// names the store method it lacks. `authMethod` ends the printout's "auth method" line.
    static func createSecretless(_ client: ClientRecord, kept: (ClientRecord) -> Bool, unsupported: String, authMethod: String,
                                 _ store: PluginSession, json: Bool) -> Result<Void, CLIError>
    {
        store.call(ClientStore.create, CreateClientParams(client: client, secret: nil)).flatMap { result in
            guard kept(result.client) else {
                _ = store.call(ClientStore.delete, ClientIDParams(clientID: client.id))
                return .failure(CLIError(.refused, "this store does not keep \(unsupported)"))
            }
            print(json ? JSONWriter.pretty(ClientOutput.json(result.client))
                : ClientOutput.createdWithoutSecret(result.client, authMethod: authMethod), terminator: "")
            return .success(())
        }
    }
}
