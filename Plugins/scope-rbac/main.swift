import Glibc
import PluginProtocol

// The scope-rbac plugin: serves the policy methods over stdin/stdout (Docs/plugin-protocol.md).
let server = PluginServer(name: "scope-rbac", version: BuildInfo.version, role: .policy)
exit(server.run())
