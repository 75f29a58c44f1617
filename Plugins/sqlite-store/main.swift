import Glibc
import PluginProtocol

// The sqlite-store plugin: serves the store methods over stdin/stdout (Docs/plugin-protocol.md).
let server = PluginServer(name: "sqlite-store", version: BuildInfo.version, role: .store)
exit(server.run())
