import Glibc
import PluginProtocol
import StoreKit

// sqlite-store: clients in one SQLite file (Docs/stores.md).
// Config: {"path": "/var/lib/gatehouse/gatehouse.sqlite3", "changePollMs": 500, "authCacheMs": 5000}.
let server = PluginServer(name: "sqlite-store", version: BuildInfo.version, role: .store)
var backend: SQLiteStoreBackend?
var watcher: ChangeWatcher?

server.onInitialize { params in
    let (path, pollMilliseconds, authCache) = try params.readConfig { config throws(JSONShapeError) in
        (try config.optionalString("path"), Int(try config.optionalInt("changePollMs", in: 1...3_600_000) ?? 500),
         try StoreService.authCacheMilliseconds(config))
    }
    guard let path, !path.isEmpty else {
        throw RPCError(.invalidParams, "sqlite-store needs config.path, the database file")
    }
    let own = OwnChanges()
    let opened = try SQLiteStoreBackend(path: path, own: own)
    backend = opened
    StoreService(backend: opened, authCacheMilliseconds: authCache).register(on: server)
    let notifier = server.notifier
    watcher = try ChangeWatcher(path: path, interval: .milliseconds(max(50, pollMilliseconds)), own: own) {
        notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: []))
    }
    PluginLog.info("opened database", ["store.path": .string(path)])
}
server.onShutdown { backend?.flushUses(now: Int64(time(nil))) }
exit(server.run())
