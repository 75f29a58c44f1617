import Foundation
import Glibc
import PluginProtocol

/// The `gatehouse` command. Exit codes: 0 success; 1 the operation was refused (not found, conflict,
/// weak secret, policy denied); 2 usage error; 3 configuration or store unavailable.
public enum CommandLineTool {
    public static let usage = """
        usage: gatehouse [--config PATH] [--data DIR] <command> [options]

        Commands:
          serve [--config PATH] [--listen HOST:PORT] [--data DIR]   run the authorization server
          client add --name NAME --scope "a b" [--id ID] [--default-scope "a"] [--role ROLE] [--ttl SECONDS]
                     [--secret-stdin] [--json]                      create a client; prints its secret once
          client list [--json]                                      list clients
          client show ID [--json]                                   show one client
          client update ID [--name N] [--scope S] [--default-scope S] [--role R] [--ttl SECONDS] [--json]
          client rotate-secret ID [--grace SECONDS] [--json]        new secret; the old one works for --grace
          client disable ID | client enable ID | client remove ID
          policy check (--client ID | --scope "a b" [--role R]) --request "METHOD /path" [--from ADDRESS]
          keys list | keys rotate                                   token signing keys (rotation keeps old tokens valid)
          keys withdraw KID [--force]                               pull a compromised key now (its tokens stop working)
          version

        Every command takes --config PATH and --data DIR, as serve does, to reach the same store; they may go
        before or after the command. `gatehouse <command> --help` shows a command's options and exits 0.
        Exit codes: 0 success; 1 refused (not found, conflict, weak secret, policy denied); 2 usage error;
        3 configuration error, or the store or policy unavailable.
        Docs: Docs/getting-started.md
        """

    public enum Exit: Int32, Sendable {
        case success = 0
        case refused = 1
        case usage = 2
        case unavailable = 3
    }

    public static func main(_ arguments: [String]) -> Int32 {
        let (command, rest) = splitCommand(arguments)
        if command != "help" && CommandLineArguments.wantsHelp(rest) {
            switch command {
            case "serve": print(ServeCommand.usage)
            case "client": print(CommandUsage.clientAction(splitCommand(rest).0))
            case "policy": print(CommandUsage.policyCheck)
            case "keys":
                let lines = usage.split(separator: "\n").filter { $0.hasPrefix("  keys ") }
                print(lines.map { "usage: gatehouse " + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n") + "\n\n" + CommandUsage.configFlags)
            default: break
            }
            if ["serve", "client", "policy", "keys"].contains(command) { return Exit.success.rawValue }
        }
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
        case "":
            printError("no command given\n\n\(usage)")
            return Exit.usage.rawValue
        default:
            printError("unknown command '\(command)'\n\n\(usage)")
            return Exit.usage.rawValue
        }
    }

    /// The command, and its arguments with any global options given before it (`gatehouse --config F client
    /// list`) moved after it, where every command parses them.
    static func splitCommand(_ arguments: [String]) -> (String, [String]) {
        var leading: [String] = []
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("--"), !["--help", "--version"].contains(arguments[index]) {
            let argument = arguments[index]
            leading.append(argument)
            index += 1
            let takesValue = ["--config", "--data", "--listen"].contains(argument)
            if takesValue, index < arguments.count {
                leading.append(arguments[index])
                index += 1
            }
        }
        guard index < arguments.count else { return (leading.isEmpty ? "help" : "", leading) }
        return (arguments[index], Array(arguments[(index + 1)...]) + leading)
    }

    /// Prints a command's error and gives its exit code.
    static func report(_ error: CLIError) -> Exit {
        printError(error.message)
        return error.exit
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
