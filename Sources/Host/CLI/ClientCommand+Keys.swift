import PluginProtocol

/// Secretless clients: registered with a public key (`private_key_jwt`, the JWT-bearer grant), rotated by
/// adding the new key before removing the old one, so both work during the overlap.
extension ClientCommand {
    static func addWithKey(_ path: String, name: String, scopes: [String], _ arguments: CommandLineArguments, _ store: PluginSession,
                           json: Bool) -> Result<Void, CLIError>
    {
        guard !arguments.flag("secret-stdin") else {
            return .failure(CLIError(.usage, "--public-key and --secret-stdin exclude each other: a client with a key has no secret"))
        }
        let lifetime: Int64?
        do {
            lifetime = try arguments.integer("ttl", in: 1...31_536_000)
        } catch {
            return .failure(CLIError(.usage, error.description))
        }
        return ClientKeyFile.read(path, keyID: arguments.value("key-id")).flatMap { key in
            let id = arguments.value("id") ?? generatedID(from: name)
            let client = ClientRecord(id: id, name: name, role: arguments.value("role") ?? "", allowedScopes: scopes,
                                      defaultScopes: arguments.value("default-scope").map { words($0) } ?? scopes,
                                      tokenLifetime: lifetime, enabled: true, createdAt: 0, updatedAt: 0, publicKeys: [key])
            return store.call(ClientStore.create, CreateClientParams(client: client, secret: nil)).flatMap { result in
                // A store that does not know the field would have dropped it: the client could never authenticate.
                guard !result.client.publicKeys.isEmpty else {
                    _ = store.call(ClientStore.delete, ClientIDParams(clientID: id))
                    return .failure(CLIError(.refused, "this store does not keep public keys (it does not serve store.addPublicKey)"))
                }
                if json {
                    print(JSONWriter.pretty(ClientOutput.json(result.client)), terminator: "")
                } else {
                    print("Created client \(result.client.id) (\(result.client.name)) with no secret")
                    print("  client_id:     \(result.client.id)")
                    print("  auth method:   private_key_jwt, jwt-bearer grant (key \(key.keyID), \(key.algorithm))")
                    print("  scopes:        \(ClientOutput.scopes(result.client))")
                }
                return .success(())
            }
        }
    }

    static func updateKeys(_ id: String, _ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        var outcome: Result<ClientRecord?, CLIError> = .success(nil)
        if let path = arguments.value("add-public-key") {
            outcome = ClientKeyFile.read(path, keyID: arguments.value("key-id")).flatMap { key in
                store.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: id, key: key)).map(\.client)
            }
        }
        if let kid = arguments.value("remove-key") {
            outcome = outcome.flatMap { _ in
                store.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: id, keyID: kid)).map(\.client)
            }
        }
        return outcome.map { client in
            guard let client else { return }
            print(json ? JSONWriter.pretty(ClientOutput.json(client)) : ClientOutput.details(client), terminator: "")
        }
    }
}
