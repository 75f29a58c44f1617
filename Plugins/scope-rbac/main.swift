import Dispatch
import Glibc
import PluginProtocol

// scope-rbac: role- and resource-based scope policy (Docs/policy.md).
// Config: {"policyFile": "/etc/gatehouse/policy.json", "reloadMs": 1000}; without policyFile, the built-in
// policy (scope `metrics` allows GET /api/v1/metrics).
let server = PluginServer(name: "scope-rbac", version: BuildInfo.version, role: .policy)
var watcher: PolicyWatcher?

server.onInitialize { params in
    // A misspelt `policyFile` must not fall back to the built-in policy: unknown keys fail initialize.
    let (policyFile, reloadMs) = try params.readConfig { config throws(JSONShapeError) in
        (try config.optionalString("policyFile"), try config.optionalInt("reloadMs", in: 1...3_600_000) ?? 1000)
    }
    let file = try PolicyFile(path: policyFile)
    server.register(Policy.grant) { file.engine.grant($0) }
    server.register(Policy.authorize) { file.engine.authorize($0) }
    // The host forwards its SIGHUP as `reload`: re-read the file now; a broken file is an error, the old
    // policy stays in force.
    server.register(Lifecycle.reload) { _ in
        let changed = try file.reloadNow()
        if changed { server.notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: [])) }
        return ReloadResult(changed: changed, detail: policyFile.map { "policy file \($0)" } ?? "built-in policy")
    }
    let interval = Int(max(50, reloadMs))
    watcher = PolicyWatcher(file: file, interval: .milliseconds(interval), notifier: server.notifier)
    PluginLog.info("policy loaded", ["policy.source": .string(policyFile ?? "built-in")])
}
exit(server.run())
