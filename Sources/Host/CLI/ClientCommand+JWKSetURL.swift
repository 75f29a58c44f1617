import Foundation
import PluginProtocol

/// Secretless clients whose keys live at a URL (`--jwks-uri`): the host fetches the client's JWK Set from it
/// (`JWKSetFetcher`), so the client rotates keys by publishing them, with no command here.
extension ClientCommand {
    /// The options that name another way to authenticate, with which `--jwks-uri` makes no sense.
    static func jwksURIConflict(_ arguments: CommandLineArguments) -> CLIError? {
        let others = ["public-key", "add-public-key", "remove-key", "key-id"].filter { arguments.value($0) != nil }.map { "--" + $0 }
            + (arguments.flag("secret-stdin") ? ["--secret-stdin"] : []) + (arguments.flag("remove-jwks-uri") ? ["--remove-jwks-uri"] : [])
        guard let other = others.first else { return nil }
        return CLIError(.usage, "--jwks-uri and \(other) exclude each other: a client takes its keys from one URL, "
            + "or has registered keys, or a secret")
    }

    /// The URL as given, or a usage error that says what is wrong with it (the store checks it again).
    static func checkedJWKSetURL(_ url: String) -> Result<String, CLIError> {
        if let problem = JWKSetURL.violation(url) { return .failure(CLIError(.usage, "--jwks-uri: \(problem)")) }
        return .success(url)
    }

    static func addWithJWKSetURL(_ url: String, name: String, scopes: [String], _ arguments: CommandLineArguments, _ store: PluginSession,
                                 json: Bool) -> Result<Void, CLIError>
    {
        if let conflict = jwksURIConflict(arguments) { return .failure(conflict) }
        return tokenLifetime(arguments).flatMap { lifetime in
            checkedJWKSetURL(url).flatMap { url in
                var client = newClient(name: name, scopes: scopes, lifetime: lifetime, arguments)
                client.jwksURI = url
                return createSecretless(client, kept: { $0.jwksURI == url }, unsupported: "jwks uris (it does not serve store.setJwksUri)",
                                        authMethod: "keys fetched from \(url)", store, json: json)
            }
        }
    }

    /// `--jwks-uri URL` sets or replaces the URL (a client with registered keys changes over to it in one
    /// step); `--remove-jwks-uri` drops it, and with `--add-public-key` changes the client over to that key.
    static func updateJWKSetURL(_ id: String, _ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        let show: (ClientRecord) -> Void = { client in
            print(json ? JSONWriter.pretty(ClientOutput.json(client)) : ClientOutput.details(client), terminator: "")
        }
        if let url = arguments.value("jwks-uri") {
            if let conflict = jwksURIConflict(arguments) { return .failure(conflict) }
            return checkedJWKSetURL(url).flatMap { url in
                store.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: id, jwksURI: url)).map { show($0.client) }
            }
        }
        guard arguments.value("remove-key") == nil else {
            return .failure(CLIError(.usage, "--remove-jwks-uri and --remove-key exclude each other: a client with a jwks uri has no registered key"))
        }
        guard let path = arguments.value("add-public-key") else {
            return store.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: id, jwksURI: nil)).map { result in
                show(result.client)
                CommandLineTool.printError("warning: client \(id) has no key now and cannot authenticate until you add one with --add-public-key")
            }
        }
        // The key is read before the URL goes, so a bad key file leaves the client as it was.
        return ClientKeyFile.read(path, keyID: arguments.value("key-id")).flatMap { key in
            store.call(ClientKeys.setJWKSetURL, SetJWKSetURLParams(clientID: id, jwksURI: nil)).flatMap { _ in
                store.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: id, key: key)).map { show($0.client) }
            }
        }
    }
}
