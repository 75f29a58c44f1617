import Foundation
import PluginProtocol

/// `gatehouse policy check`: what the policy plugin decides for a client (or scopes and role) and a
/// request, and why. Exits 0 when allowed, 1 when denied.
enum PolicyCommand {
    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        guard raw.first == "check" else {
            CommandLineTool.printError("usage: gatehouse policy check (--client ID | --scope \"a b\" [--role R]) --request \"GET /path\"")
            return .usage
        }
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(Array(raw.dropFirst()), valueOptions: ["config", "data", "client", "scope", "role", "request"],
                                                 flagOptions: ["json"])
            try arguments.expectPositionals(atMost: 0, usage: "gatehouse policy check --client ID --request \"GET /path\"")
        } catch {
            CommandLineTool.printError(error.description)
            return .usage
        }
        guard let requestText = arguments.value("request"), let space = requestText.firstIndex(of: " ") else {
            CommandLineTool.printError("--request must be \"METHOD /path\", e.g. --request \"GET /api/v1/metrics\"")
            return .usage
        }
        let request = AuthorizeParams.Request(method: String(requestText[..<space]).uppercased(),
                                              path: String(requestText[requestText.index(after: space)...]))
        guard arguments.value("client") != nil || arguments.value("scope") != nil else {
            CommandLineTool.printError("policy check needs --client ID, or --scope (and optionally --role)")
            return .usage
        }
        switch CommandLineTool.loadConfig(arguments).flatMap({ check($0, arguments, request) }) {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let allowed):
            return allowed ? .success : .refused
        }
    }

    private static func check(_ config: HostConfig, _ arguments: CommandLineArguments, _ request: AuthorizeParams.Request)
        -> Result<Bool, CLIError>
    {
        var subject = PolicySubject(clientID: "(command line)", role: arguments.value("role") ?? "")
        var grantLine: String?
        if let id = arguments.value("client") {
            switch PluginSession.open(config.store).flatMap({ store -> Result<GetClientResult, CLIError> in
                defer { store.close() }
                return store.call(ClientStore.get, ClientIDParams(clientID: id))
            }) {
            case .failure(let error): return .failure(error)
            case .success(let result):
                guard let client = result.client else { return .failure(CLIError(.refused, "no client '\(id)'")) }
                subject = PolicySubject(clientID: client.id, role: arguments.value("role") ?? client.role,
                                        allowedScopes: client.allowedScopes, defaultScopes: client.defaultScopes)
            }
        }
        let policy: PluginSession
        switch PluginSession.open(config.policy) {
        case .failure(let error): return .failure(error)
        case .success(let session): policy = session
        }
        defer { policy.close() }
        let scopes: [String]
        if let given = arguments.value("scope") {
            scopes = given.split(separator: " ").map(String.init)
        } else {
            let grant = policy.call(Policy.grant, GrantParams(client: subject, requestedScopes: nil))
            guard case .success(let decision) = grant else {
                if case .failure(let error) = grant { return .failure(error) }
                return .failure(CLIError(.unavailable, "no answer"))
            }
            guard decision.granted else {
                print("DENY   \(request.method) \(request.path)\n  client: \(subject.clientID)\n  reason: no token would be issued: \(decision.reason)")
                return .success(false)
            }
            scopes = decision.scopes
            grantLine = decision.reason
        }
        let params = AuthorizeParams(clientID: subject.clientID, role: subject.role, scopes: scopes, request: request)
        return policy.call(Policy.authorize, params).map { decision in
            print("\(decision.allowed ? "ALLOW" : "DENY ")  \(request.method) \(request.path)")
            print("  client: \(subject.clientID) (role: \(subject.role.isEmpty ? "none" : subject.role))")
            print("  scopes: \(scopes.joined(separator: " "))" + (grantLine.map { " (\($0))" } ?? ""))
            print("  reason: \(decision.reason)")
            if !decision.allowed && !decision.requiredScopes.isEmpty {
                print("  needs:  \(decision.requiredScopes.joined(separator: " or "))")
            }
            return decision.allowed
        }
    }
}
