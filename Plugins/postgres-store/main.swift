import Glibc
import PluginProtocol
import StoreKit

// postgres-store: clients in PostgreSQL, shared by several hosts (Docs/stores.md).
// Config: {"url": "postgresql://gatehouse@db.internal/gatehouse?sslmode=verify-full", "authCacheMs": 5000, "connections": 2}.
let server = PluginServer(name: "postgres-store", version: BuildInfo.version, role: .store)
var backend: PostgresStoreBackend?
var listener: ChangeListener?

server.onInitialize { params in
    let (url, connections, authCache) = try params.readConfig { config throws(JSONShapeError) in
        (try config.optionalString("url"), Int(try config.optionalInt("connections", in: 1...16) ?? 2),
         try StoreService.authCacheMilliseconds(config))
    }
    guard let url, !url.isEmpty else {
        throw RPCError(.invalidParams, "postgres-store needs config.url, a libpq connection string or URI (postgresql://…)")
    }
    let target = try ConnectionTarget(url: url)
    let pool = try PostgresPool(target: target, capacity: connections)
    let lookups = try PostgresPool(target: target, capacity: 1, role: "lookups", setup: "SET plan_cache_mode = force_generic_plan")
    let opened = try PostgresStoreBackend(pool: pool, lookups: lookups)
    backend = opened
    StoreService(backend: opened, authCacheMilliseconds: authCache).register(on: server)
    let notifier = server.notifier
    let watching = try ChangeListener(target: target) { ids in
        notifier.notify(Lifecycle.invalidate, InvalidateParams(clientIDs: ids.count > 1000 ? [] : ids))
    }
    watching.start()
    listener = watching
    PluginLog.info("opened database", ["store.database": .string(pool.location)])
}
server.onShutdown { backend?.flushUses(now: Int64(time(nil))) }
exit(server.run())
