import Foundation
import Glibc
import PluginProtocol

/// The `gatehouse` command. Exit codes: 0 success; 1 the operation was refused (not found, conflict,
/// weak secret, policy denied); 2 usage error; 3 configuration or store unavailable.
public enum CommandLineTool {
    public static let usage = """
        usage: gatehouse <command> [options]

        Commands:
          serve [--config PATH] [--listen HOST:PORT] [--data DIR]   run the authorization server
          client add --name NAME [--id ID] [--scope "a b"] [--default-scope "a"] [--role ROLE] [--ttl SECONDS]
                     [--secret-stdin] [--json]                      create a client; prints its secret once
          client list [--json]                                      list clients
          client show ID [--json]                                   show one client
          client update ID [--name N] [--scope S] [--default-scope S] [--role R] [--ttl SECONDS] [--json]
          client rotate-secret ID [--grace SECONDS] [--json]        new secret; the old one works for --grace
          client disable ID | client enable ID | client remove ID
          policy check (--client ID | --scope "a b" [--role R]) --request "METHOD /path"
          keys list | keys rotate                                   token signing keys (rotation keeps old tokens valid)
          version

        Every command takes --config PATH and --data DIR, as serve does, to reach the same store.
        Docs: Docs/getting-started.md
        """

    public enum Exit: Int32, Sendable {
        case success = 0
        case refused = 1
        case usage = 2
        case unavailable = 3
    }

    public static func main(_ arguments: [String]) -> Int32 {
        let command = arguments.first ?? "help"
        let rest = Array(arguments.dropFirst())
        switch command {
        case "serve": return ServeCommand.run(rest).rawValue
        case "client": return ClientCommand.run(rest).rawValue
        case "policy": return PolicyCommand.run(rest).rawValue
        case "keys": return KeysCommand.run(rest).rawValue
        case "version", "--version":
            print("gatehouse \(BuildInfo.version)")
            return Exit.success.rawValue
        case "help", "--help", "-h":
            print(usage)
            return Exit.success.rawValue
        default:
            printError("unknown command '\(command)'\n\n\(usage)")
            return Exit.usage.rawValue
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("gatehouse: \(message)\n".utf8))
    }

    /// Parses a command's options and loads the shared config; prints the error and gives the exit code on failure.
    static func prepare(_ raw: [String], valueOptions: Set<String>, flagOptions: Set<String> = [], positionals: Int = 0,
                        usage: String) -> Result<(CommandLineArguments, HostConfig), CLIError>
    {
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(raw, valueOptions: valueOptions, flagOptions: flagOptions)
            try arguments.expectPositionals(atMost: positionals, usage: usage)
        } catch {
            return .failure(CLIError(.usage, error.description))
        }
        return loadConfig(arguments).map { (arguments, $0) }
    }

    /// The config every command shares: file, environment, then `--listen`/`--data` flags.
    static func loadConfig(_ arguments: CommandLineArguments) -> Result<HostConfig, CLIError> {
        do {
            var config = try HostConfig.load(path: arguments.value("config"), environment: ProcessInfo.processInfo.environment)
            if let listen = arguments.value("listen") { try config.setListen(listen) }
            if let data = arguments.value("data") { config.dataDirectory = data }
            config.resolvePluginDefaults()
            return .success(config)
        } catch {
            return .failure(CLIError(.unavailable, error.description))
        }
    }
}

struct CLIError: Error {
    let exit: CommandLineTool.Exit
    let message: String
    init(_ exit: CommandLineTool.Exit, _ message: String) {
        self.exit = exit
        self.message = message
    }
}
