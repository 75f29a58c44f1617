import Glibc
import PluginProtocol
import StoreKit

// file-store: clients in one human-readable JSON file (Docs/stores.md).
// Config: {"path": "clients.json", "readOnly": false, "reloadMs": 1000, "authCacheMs": 5000}.
let server = PluginServer(name: "file-store", version: BuildInfo.version, role: .store)
var watcher: FileWatcher?

server.onInitialize { params in
    guard let path = params.config["path"]?.stringValue, !path.isEmpty else {
        throw RPCError(.invalidParams, "file-store needs config.path, the clients file")
    }
    let readOnly = params.config["readOnly"]?.boolValue ?? false
    let backend = try FileStoreBackend(path: path, readOnly: readOnly)
    let authCache = try StoreService.authCacheMilliseconds(config: params.config)
    StoreService(backend: backend, authCacheMilliseconds: authCache).register(on: server)
    let interval = Int(max(50, params.config["reloadMs"]?.intValue ?? 1000))
    watcher = FileWatcher(backend: backend, interval: .milliseconds(interval), notifier: server.notifier)
    PluginLog.info("opened clients file", ["store.path": .string(path), "store.read_only": .bool(readOnly)])
}
exit(server.run())
