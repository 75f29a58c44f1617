import PluginProtocol

/// `gatehouse policy check`: what the server would answer for a client (or scopes and role) and a request,
/// and why, asked of the config's own store and policy plugins. Exits 0 when allowed, 1 when denied.
enum PolicyCommand {
    struct Answer {
        var allowed: Bool
        var request: AuthorizeParams.Request
        var clientID: String
        var role: String
        var scopes: [String] = []
        var grant: String?
        var reason: String
        var needs: [String] = []
    }

    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        let (action, rest) = CommandLineTool.splitCommand(raw)
        guard action == "check" else {
            CommandLineTool.printError(action.isEmpty ? CommandUsage.policyCheck : "unknown action 'policy \(action)'\n\n\(CommandUsage.policyCheck)")
            return .usage
        }
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(rest, valueOptions: ["config", "data", "client", "scope", "role", "request", "from"],
                                                 flagOptions: ["json"])
            try arguments.expectPositionals(atMost: 0, usage: "gatehouse policy check --client ID --request \"GET /path\"")
        } catch {
            CommandLineTool.printError("\(error.description) (gatehouse policy check --help lists its options)")
            return .usage
        }
        guard let requestText = arguments.value("request"), let space = requestText.firstIndex(of: " ") else {
            CommandLineTool.printError("--request must be \"METHOD /path\", e.g. --request \"GET /api/v1/metrics\"")
            return .usage
        }
        let from = arguments.value("from")
        if let from, IPNetwork(from) == nil || from.contains("/") {
            CommandLineTool.printError("--from must be an IP address, e.g. --from 10.0.0.7")
            return .usage
        }
        let request = AuthorizeParams.Request(method: String(requestText[..<space]).uppercased(),
                                              path: String(requestText[requestText.index(after: space)...]),
                                              remoteAddress: from)
        guard arguments.value("client") != nil || arguments.value("scope") != nil else {
            CommandLineTool.printError("policy check needs --client ID, or --scope (and optionally --role)")
            return .usage
        }
        switch CommandLineTool.loadConfig(arguments).flatMap({ config in
            check(config, arguments, request).map { (config, $0) }
        }) {
        case .failure(let error):
            return CommandLineTool.report(error)
        case .success(let (config, answer)):
            print(arguments.flag("json") ? JSONWriter.pretty(json(answer)) : text(answer, policy: policyNote(config, arguments)),
                  terminator: "")
            return answer.allowed ? .success : .refused
        }
    }

    /// Says which policy answered when it is the built-in one, the usual surprise of a check without the
    /// server's --config.
    static func policyNote(_ config: HostConfig, _ arguments: CommandLineArguments) -> String? {
        guard config.policy.command == "gatehouse-scope-rbac", config.policy.config["policyFile"] == nil else { return nil }
        return arguments.value("config") == nil
            ? "built-in (no --config given; pass the server's --config to check its policy)"
            : "built-in (plugins.policy.config has no policyFile)"
    }

    private static func check(_ config: HostConfig, _ arguments: CommandLineArguments, _ request: AuthorizeParams.Request)
        -> Result<Answer, CLIError>
    {
        var subject = PolicySubject(clientID: "(command line)", role: arguments.value("role") ?? "")
        if let id = arguments.value("client") {
            switch PluginSession.open(config.store).flatMap({ store -> Result<GetClientResult, CLIError> in
                defer { store.close() }
                return store.call(ClientStore.get, ClientIDParams(clientID: id))
            }) {
            case .failure(let error): return .failure(error)
            case .success(let result):
                guard let client = result.client else { return .failure(CLIError(.refused, "no client '\(id)'")) }
                // The server refuses a disabled client's tokens before asking the policy.
                guard client.enabled else {
                    return .success(Answer(allowed: false, request: request, clientID: client.id, role: client.role,
                                           reason: "client disabled: its tokens are refused and no token is issued"))
                }
                subject = PolicySubject(clientID: client.id, role: arguments.value("role") ?? client.role,
                                        allowedScopes: client.allowedScopes, defaultScopes: client.defaultScopes)
            }
        }
        return PluginSession.open(config.policy).flatMap { policy in
            defer { policy.close() }
            var answer = Answer(allowed: false, request: request, clientID: subject.clientID, role: subject.role, reason: "")
            if let given = arguments.value("scope") {
                answer.scopes = given.split(separator: " ").map(String.init)
            } else {
                switch policy.call(Policy.grant, GrantParams(client: subject, requestedScopes: nil)) {
                case .failure(let error): return .failure(error)
                case .success(let decision) where !decision.granted:
                    answer.reason = "no token would be issued: \(decision.reason)"
                    return .success(answer)
                case .success(let decision):
                    answer.scopes = decision.scopes
                    answer.grant = decision.reason
                }
            }
            let params = AuthorizeParams(clientID: subject.clientID, role: subject.role, scopes: answer.scopes, request: request)
            return policy.call(Policy.authorize, params).map { decision in
                answer.allowed = decision.allowed
                answer.reason = decision.reason
                answer.needs = decision.allowed ? [] : decision.requiredScopes
                return answer
            }
        }
    }

    static func text(_ answer: Answer, policy: String?) -> String {
        var lines = ["\(answer.allowed ? "ALLOW" : "DENY ")  \(answer.request.method) \(answer.request.path)"
                     + (answer.request.remoteAddress.map { " from \($0)" } ?? "")]
        lines.append("  client: \(answer.clientID) (role: \(answer.role.isEmpty ? "none" : answer.role))")
        if !answer.scopes.isEmpty || answer.grant != nil {
            lines.append("  scopes: \(answer.scopes.joined(separator: " "))" + (answer.grant.map { " (\($0))" } ?? ""))
        }
        lines.append("  reason: \(answer.reason)")
        if !answer.needs.isEmpty { lines.append("  needs:  \(answer.needs.joined(separator: " or "))") }
        if let policy { lines.append("  policy: \(policy)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ answer: Answer) -> JSONValue {
        ["allowed": .bool(answer.allowed), "method": .string(answer.request.method), "path": .string(answer.request.path),
         "from": answer.request.remoteAddress.map { .string($0) } ?? .null, "client_id": .string(answer.clientID),
         "role": answer.role.isEmpty ? .null : .string(answer.role), "scopes": .array(answer.scopes.map { .string($0) }),
         "reason": .string(answer.reason), "required_scopes": .array(answer.needs.map { .string($0) })]
    }
}
