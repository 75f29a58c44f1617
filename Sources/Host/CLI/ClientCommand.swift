import CryptoPrimitives
import Foundation
import Glibc
import PluginProtocol

/// `gatehouse client …`: manage clients in whichever store the config names.
enum ClientCommand {
    private static let valueOptions: Set<String> = ["config", "data", "name", "id", "scope", "default-scope", "role", "ttl", "grace",
                                                     "public-key", "add-public-key", "remove-key", "key-id", "jwks-uri"]
    private static let flagOptions: Set<String> = ["json", "secret-stdin", "remove-jwks-uri"]

    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        let (action, rest) = CommandLineTool.splitCommand(raw)
        guard !action.isEmpty, action != "help" else {
            CommandLineTool.printError("client needs an action\n\n\(CommandUsage.client)")
            return .usage
        }
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(rest, valueOptions: valueOptions, flagOptions: flagOptions)
        } catch {
            CommandLineTool.printError("\(error.description) (gatehouse client \(action) --help lists its options)")
            return .usage
        }
        let outcome = execute(action, arguments)
        if case .failure(let error) = outcome {
            CommandLineTool.printError(error.message)
            return error.exit
        }
        return .success
    }

    private static func execute(_ action: String, _ arguments: CommandLineArguments) -> Result<Void, CLIError> {
        let json = arguments.flag("json")
        func needID() -> Result<String, CLIError> {
            guard arguments.positionals.count == 1 else {
                return .failure(CLIError(.usage, "client \(action) needs exactly one client id"))
            }
            return .success(arguments.positionals[0])
        }
        let known = ["add", "list", "show", "update", "rotate-secret", "disable", "enable", "remove"]
        guard known.contains(action) else {
            return .failure(CLIError(.usage, "unknown action 'client \(action)' (expected \(known.joined(separator: ", ")))"))
        }
        if action == "add" || action == "list", !arguments.positionals.isEmpty {
            return .failure(CLIError(.usage, "unexpected argument '\(arguments.positionals[0])'"))
        }
        return CommandLineTool.loadConfig(arguments).flatMap { config in
            PluginSession.open(config.store).flatMap { store in
                defer { store.close() }
                switch action {
                case "add": return add(arguments, store, json: json)
                case "list": return list(store, json: json)
                default:
                    return needID().flatMap { id in
                        switch action {
                        case "show":
                            return store.call(ClientStore.get, ClientIDParams(clientID: id)).flatMap { result in
                                guard let client = result.client else { return .failure(CLIError(.refused, "no client '\(id)'")) }
                                print(json ? JSONWriter.pretty(ClientOutput.json(client)) : ClientOutput.details(client), terminator: "")
                                return .success(())
                            }
                        case "update": return update(id, arguments, store, json: json)
                        case "rotate-secret": return rotate(id, arguments, store, json: json)
                        case "disable", "enable":
                            var change = UpdateClientParams(clientID: id)
                            change.enabled = action == "enable"
                            return store.call(ClientStore.update, change).map { result in
                                print(json ? JSONWriter.pretty(ClientOutput.json(result.client)) : "Client \(id) \(action)d.\n", terminator: "")
                            }
                        default:
                            return store.call(ClientStore.delete, ClientIDParams(clientID: id)).flatMap { result in
                                guard result.deleted else { return .failure(CLIError(.refused, "no client '\(id)'")) }
                                print(json ? #"{"deleted": true}"# : "Client \(id) removed; its tokens stop working.")
                                return .success(())
                            }
                        }
                    }
                }
            }
        }
    }

    private static func add(_ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        guard let name = arguments.value("name") else { return .failure(CLIError(.usage, "client add needs --name NAME")) }
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { return .failure(CLIError(.usage, "--name must not be empty")) }
        let scopes = words(arguments.value("scope"))
        guard !scopes.isEmpty else {
            return .failure(CLIError(.usage, "client add needs --scope \"a b\": a client without scopes can never get a token"))
        }
        if let url = arguments.value("jwks-uri") { return addWithJWKSetURL(url, name: name, scopes: scopes, arguments, store, json: json) }
        if let path = arguments.value("public-key") { return addWithKey(path, name: name, scopes: scopes, arguments, store, json: json) }
        let lifetime: Int64?
        let secret: String
        do {
            lifetime = try arguments.integer("ttl", in: 1...31_536_000)
            secret = try arguments.flag("secret-stdin") ? readSecret() : SecretStrength.generate()
        } catch let error as CommandLineArguments.ParseError {
            return .failure(CLIError(.usage, error.description))
        } catch let error as CLIError {
            return .failure(error)
        } catch {
            return .failure(CLIError(.unavailable, "cannot generate a secret: \(error)"))
        }
        let client = newClient(name: name, scopes: scopes, lifetime: lifetime, arguments)
        // A secret the operator supplied is not printed back: it would land in terminal scrollback and CI logs.
        let shown = arguments.flag("secret-stdin") ? nil : secret
        return store.call(ClientStore.create, CreateClientParams(client: client, secret: secret)).map { result in
            if json {
                print(JSONWriter.pretty(ClientOutput.json(result.client, secret: shown)), terminator: "")
            } else {
                print("Created client \(result.client.id) (\(result.client.name))")
                print("  client_id:     \(result.client.id)")
                print("  client_secret: \(shown ?? "(the one read from standard input)")")
                print("  scopes:        \(ClientOutput.scopes(result.client))")
                if shown != nil { CommandLineTool.printError("warning: store the client secret now; it cannot be shown again.") }
            }
        }
    }

    /// Page by page, each printed before the next is asked for: a million clients are never all in memory. A
    /// table is aligned within each page of `listPage` clients; JSON is one array, whatever the number of pages.
    private static func list(_ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        var cursor: String?
        var shown = 0
        repeat {
            switch store.call(ClientStore.list, ListClientsParams(cursor: cursor, limit: listPage)) {
            case .failure(let error): return .failure(error)
            case .success(let page):
                if json {
                    print(ClientOutput.jsonArrayPart(page.clients, first: shown == 0), terminator: "")
                } else if !page.clients.isEmpty {
                    print(ClientOutput.table(page.clients, header: shown == 0), terminator: "")
                }
                shown += page.clients.count
                cursor = page.nextCursor
            }
        } while cursor != nil
        if json {
            print(shown == 0 ? "]" : "\n]")
        } else if shown == 0 {
            print(ClientOutput.table([]), terminator: "")
        }
        return .success(())
    }

    static let listPage: Int64 = 1000

    private static func update(_ id: String, _ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        if arguments.value("jwks-uri") != nil || arguments.flag("remove-jwks-uri") {
            return updateJWKSetURL(id, arguments, store, json: json)
        }
        if arguments.value("add-public-key") != nil || arguments.value("remove-key") != nil {
            return updateKeys(id, arguments, store, json: json)
        }
        var change = UpdateClientParams(clientID: id)
        if let name = arguments.value("name"), name.trimmingCharacters(in: .whitespaces).isEmpty {
            return .failure(CLIError(.usage, "--name must not be empty"))
        }
        change.name = arguments.value("name")
        change.role = arguments.value("role")
        change.allowedScopes = arguments.value("scope").map(words)
        change.defaultScopes = arguments.value("default-scope").map(words)
        do {
            change.tokenLifetime = try arguments.integer("ttl", in: 0...31_536_000)
        } catch {
            return .failure(CLIError(.usage, error.description))
        }
        return store.call(ClientStore.update, change).map { result in
            print(json ? JSONWriter.pretty(ClientOutput.json(result.client)) : ClientOutput.details(result.client), terminator: "")
        }
    }

    private static func rotate(_ id: String, _ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        let grace: Int64
        let secret: String
        do {
            grace = try arguments.integer("grace", in: 0...31_536_000) ?? 0
            secret = try SecretStrength.generate()
        } catch let error as CommandLineArguments.ParseError {
            return .failure(CLIError(.usage, error.description))
        } catch {
            return .failure(CLIError(.unavailable, "cannot generate a secret: \(error)"))
        }
        return store.call(ClientStore.rotateSecret, RotateSecretParams(clientID: id, secret: secret, graceSeconds: grace)).map { result in
            if json {
                print(JSONWriter.pretty(ClientOutput.json(result.client, secret: secret)), terminator: "")
            } else {
                print("New secret for \(id): \(secret)")
                print(grace > 0 ? "The previous secret keeps working for \(grace) seconds." : "The previous secret no longer works.")
                CommandLineTool.printError("warning: store the client secret now; it cannot be shown again.")
            }
        }
    }

    static func words(_ text: String?) -> [String] {
        (text ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    /// One line from standard input; from a terminal, with a prompt on stderr and echo off, so the secret
    /// never appears on the screen.
    private static func readSecret() throws -> String {
        var saved = termios()
        let terminal = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0
        if terminal {
            FileHandle.standardError.write(Data("Client secret (not echoed): ".utf8))
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        let read = readLine(strippingNewline: true)
        if terminal {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = read, !line.isEmpty else {
            throw CLIError(.usage, "--secret-stdin: no secret on standard input")
        }
        return line
    }

    /// A readable, URL-safe id: the name's letters and digits, then 6 random characters.
    static func generatedID(from name: String) -> String {
        var slug = ""
        for character in name.lowercased() {
            if character.isASCII && (character.isLetter || character.isNumber) {
                slug.append(character)
            } else if !slug.isEmpty && slug.last != "-" {
                slug.append("-")
            }
        }
        slug = String(slug.prefix(40)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        let random = (try? SecureRandom.bytes(6)) ?? Array(repeating: 0, count: 6)
        let suffix = String(random.map { alphabet[Int($0) % alphabet.count] })
        return slug.isEmpty ? "client-\(suffix)" : "\(slug)-\(suffix)"
    }
}
