import Glibc
import PluginProtocol

// The file-store plugin: serves the store methods over stdin/stdout (Docs/plugin-protocol.md).
let server = PluginServer(name: "file-store", version: BuildInfo.version, role: .store)
exit(server.run())
