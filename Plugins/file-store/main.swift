import Glibc
import PluginProtocol
import StoreKit

// file-store: clients in one human-readable JSON file (Docs/stores.md).
// Config: {"path": "clients.json", "readOnly": false, "reloadMs": 1000, "authCacheMs": 5000}.
let server = PluginServer(name: "file-store", version: BuildInfo.version, role: .store)
var watcher: FileWatcher?

server.onInitialize { params in
    let (path, readOnly, reloadMs, authCache) = try params.readConfig { config throws(JSONShapeError) in
        (try config.optionalString("path"), try config.optionalBool("readOnly") ?? false,
         try config.optionalInt("reloadMs", in: 1...3_600_000) ?? 1000, try StoreService.authCacheMilliseconds(config))
    }
    guard let path, !path.isEmpty else {
        throw RPCError(.invalidParams, "file-store needs config.path, the clients file")
    }
    let backend = try FileStoreBackend(path: path, readOnly: readOnly)
    StoreService(backend: backend, authCacheMilliseconds: authCache).register(on: server)
    let interval = Int(max(50, reloadMs))
    watcher = FileWatcher(backend: backend, interval: .milliseconds(interval), notifier: server.notifier)
    PluginLog.info("opened clients file", ["store.path": .string(path), "store.read_only": .bool(readOnly)])
}
exit(server.run())
