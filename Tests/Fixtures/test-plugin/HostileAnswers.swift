import PluginProtocol

/// Store and policy answers that are honest except for the one rule `mode` breaks, so the host's checks of
/// plugin answers can be tested against a real process. The honest store knows every client id, accepts any
/// secret, and grants `metrics`; the honest policy grants what is asked (or `metrics`) and allows everything.
///
/// Modes: `disabled-client`, `bad-client-id`, `bad-client-scope`, `other-client`, `bad-failure-reason` (store);
/// `grant-bad-scope`, `grant-beyond-allowed`, `grant-bad-reason`, `deny-bad-required`, `deny-bad-reason` (policy).
struct HostileAnswers {
    let mode: String

    func register(on server: PluginServer) {
        server.register(ClientStore.revocations) { _ in RevocationsResult(revocations: [], last: 0) }
        server.register(Method<JSONValue, JSONValue>(ClientStore.authenticate.name)) { params in
            let id = params["clientId"]?.stringValue ?? ""
            // The host's health probe gets an honest answer, so the process starts and the rule broken below
            // is met by the request path, whose own checks are what these modes test.
            if id == "gatehouse-health-probe" { return ["authenticated": false, "reason": "unknown_client"] }
            switch mode {
            case "disabled-client": return authenticated(client(id, enabled: false))
            case "bad-client-id": return authenticated(client("../../x y"))
            case "bad-client-scope": return authenticated(client(id, scopes: ["a b\"c"]))
            case "other-client": return authenticated(client("admin"))
            case "bad-failure-reason": return ["authenticated": false, "reason": "Wrong \"secret\"\r\nX-Injected: 1"]
            default: return authenticated(client(id))
            }
        }
        server.register(Method<JSONValue, JSONValue>(ClientStore.get.name)) { params in
            let id = params["clientId"]?.stringValue ?? ""
            return ["client": mode == "other-client" ? client("admin") : client(id)]
        }
        server.register(Method<JSONValue, JSONValue>(Policy.grant.name)) { params in
            let requested = params["requestedScopes"]?.arrayValue ?? ["metrics"]
            switch mode {
            case "grant-bad-scope": return ["granted": true, "scopes": ["a b\"c"], "reason": "ok"]
            case "grant-beyond-allowed": return ["granted": true, "scopes": ["metrics", "admin"], "reason": "ok"]
            case "grant-bad-reason":
                return ["granted": false, "scopes": [], "reason": "no \"way\" \\ \u{a7} \r\nX-Injected: 1"]
            default: return ["granted": true, "scopes": .array(requested), "reason": "granted"]
            }
        }
        server.register(Method<JSONValue, JSONValue>(Policy.authorize.name)) { _ in
            switch mode {
            case "deny-bad-required": return ["allowed": false, "reason": "denied", "requiredScopes": ["x\" y", "metrics"]]
            case "deny-bad-reason":
                return ["allowed": false, "reason": "denied \"here\" \\ \u{a7}\r\nX-Injected: 1", "requiredScopes": ["metrics"]]
            default: return ["allowed": true, "reason": "allowed"]
            }
        }
    }

    private func client(_ id: String, enabled: Bool = true, scopes: [String] = ["metrics"]) -> JSONValue {
        ["id": .string(id), "name": "hostile", "role": "", "allowedScopes": .array(scopes.map { .string($0) }),
         "defaultScopes": .array(scopes.map { .string($0) }), "enabled": .bool(enabled), "createdAt": 0, "updatedAt": 0,
         "instance": "hostile-instance"]
    }

    private func authenticated(_ client: JSONValue) -> JSONValue { ["authenticated": true, "client": client] }
}
