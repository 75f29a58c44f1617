import Dispatch
import Glibc
import PluginProtocol

// scope-rbac: role- and resource-based scope policy (Docs/policy.md).
// Config: {"policyFile": "/etc/gatehouse/policy.json", "reloadMs": 1000}; without policyFile, the built-in
// policy (scope `metrics` allows GET /api/v1/metrics).
let server = PluginServer(name: "scope-rbac", version: BuildInfo.version, role: .policy)
var watcher: PolicyWatcher?

server.onInitialize { params in
    let file = try PolicyFile(path: params.config["policyFile"]?.stringValue)
    server.register(Policy.grant) { file.engine.grant($0) }
    server.register(Policy.authorize) { file.engine.authorize($0) }
    let interval = Int(max(50, params.config["reloadMs"]?.intValue ?? 1000))
    watcher = PolicyWatcher(file: file, interval: .milliseconds(interval), notifier: server.notifier)
    PluginLog.info("policy loaded", ["policy.source": .string(params.config["policyFile"]?.stringValue ?? "built-in")])
}
exit(server.run())
