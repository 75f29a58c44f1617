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
        return tokenLifetime(arguments).flatMap { lifetime in
            ClientKeyFile.read(path, keyID: arguments.value("key-id")).flatMap { key in
                var client = newClient(name: name, scopes: scopes, lifetime: lifetime, arguments)
                client.publicKeys = [key]
                return createSecretless(client, kept: { !$0.publicKeys.isEmpty }, unsupported: "public keys (it does not serve store.addPublicKey)",
                                        authMethod: "key \(key.keyID), \(key.algorithm)", store, json: json)
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
