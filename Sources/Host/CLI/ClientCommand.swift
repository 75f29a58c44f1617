import CryptoPrimitives
import Foundation
import PluginProtocol

/// `gatehouse client …`: manage clients in whichever store the config names.
enum ClientCommand {
    private static let valueOptions: Set<String> = ["config", "data", "name", "id", "scope", "default-scope", "role", "ttl", "grace"]
    private static let flagOptions: Set<String> = ["json", "secret-stdin"]

    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        guard let action = raw.first else {
            CommandLineTool.printError("client needs an action: add, list, show, update, rotate-secret, disable, enable, remove")
            return .usage
        }
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(Array(raw.dropFirst()), valueOptions: valueOptions, flagOptions: flagOptions)
        } catch {
            CommandLineTool.printError(error.description)
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
        let scopes = words(arguments.value("scope"))
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
        let id = arguments.value("id") ?? generatedID(from: name)
        let client = ClientRecord(id: id, name: name, role: arguments.value("role") ?? "", allowedScopes: scopes,
                                  defaultScopes: arguments.value("default-scope").map(words) ?? scopes,
                                  tokenLifetime: lifetime, enabled: true, createdAt: 0, updatedAt: 0)
        return store.call(ClientStore.create, CreateClientParams(client: client, secret: secret)).map { result in
            if json {
                print(JSONWriter.pretty(ClientOutput.json(result.client, secret: secret)), terminator: "")
            } else {
                print("Created client \(result.client.id) (\(result.client.name))")
                print("  client_id:     \(result.client.id)")
                print("  client_secret: \(secret)")
                print("  scopes:        \(ClientOutput.scopes(result.client))")
                CommandLineTool.printError("warning: store the client secret now; it cannot be shown again.")
            }
        }
    }

    private static func list(_ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        var clients: [ClientRecord] = []
        var cursor: String?
        repeat {
            switch store.call(ClientStore.list, ListClientsParams(cursor: cursor, limit: 1000)) {
            case .failure(let error): return .failure(error)
            case .success(let page):
                clients += page.clients
                cursor = page.nextCursor
            }
        } while cursor != nil
        print(json ? JSONWriter.pretty(.array(clients.map { ClientOutput.json($0) })) : ClientOutput.table(clients), terminator: "")
        return .success(())
    }

    private static func update(_ id: String, _ arguments: CommandLineArguments, _ store: PluginSession, json: Bool) -> Result<Void, CLIError> {
        var change = UpdateClientParams(clientID: id)
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

    private static func words(_ text: String?) -> [String] {
        (text ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    private static func readSecret() throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
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
