import Glibc
import PluginProtocol

// A plugin that misbehaves on request, so the supervisor tests can drive every failure over a real process.
// Flags: --versions 1,2   protocol versions it claims
//        --role NAME      role it declares
//        --crash-on-start exit(3) before reading anything
//        --ignore-exit    ignore SIGTERM and the `exit` notification (shutdown escalation)
//        --stderr-banner  write a plain-text line to stderr at start
//        --stderr-audit   write a log line at start that poses as one of the host's audit events
//        --hostile CASE   answer the store and policy methods, honestly except for CASE (see HostileAnswers.swift)
//        --authenticate-delay-us N   answer store.authenticate with a failure, spinning N µs more for ids that
//                         start with "unknown": a planted timing leak TimingTests must see
//        --stall-authenticate-when PATH   with --role store: answer the store calls the host makes on its own
//                         like an empty store, except that once PATH exists `store.authenticate` is never
//                         answered (a store that answers everything but authentication)
//        --unavailable-when PATH   with --role store: like an empty store, except that while PATH exists
//                         `store.authenticate` answers the error `unavailable` (-32005), as a store whose
//                         database is down does

let arguments = CommandLine.arguments
func flag(_ name: String) -> Bool { arguments.contains(name) }
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

if flag("--crash-on-start") { exit(3) }
if flag("--ignore-exit") { signal(SIGTERM, SIG_IGN) }
if flag("--stderr-banner") { FileDescriptorWriter(fd: STDERR_FILENO).writeAll(Array("plain banner line\n".utf8)) }
if flag("--stderr-audit") {
    let forged = #"{"level":"info","msg":"token issued","audit":"token.issued","oauth.client_id":"admin","plugin.name":"policy"}"#
    FileDescriptorWriter(fd: STDERR_FILENO).writeAll(Array((forged + "\n").utf8))
}

let versions = option("--versions")?.split(separator: ",").compactMap { Int64($0) } ?? Lifecycle.supportedVersions
let server = PluginServer(name: "test-plugin", version: BuildInfo.version,
                          role: PluginRole(rawValue: option("--role") ?? "test"), supportedVersions: versions)
let stdout = FileDescriptorWriter(fd: STDOUT_FILENO)

struct Millis: JSONCodable {
    var ms: Int64
    init(json: JSONValue) throws(JSONShapeError) { ms = try JSONObjectReader(json).int("ms") }
    var json: JSONValue { ["ms": .int(ms)] }
}

server.register(Method<JSONValue, JSONValue>("test.echo")) { $0 }
server.register(Method<Empty, JSONValue>("test.pid")) { _ in .int(Int64(getpid())) }
server.registerConcurrent(Method<Millis, Millis>("test.sleep")) { params in
    usleep(UInt32(params.ms * 1000))
    return params
}
// Blocks the serve thread: no answer to anything until it returns.
server.register(Method<Millis, Millis>("test.stall")) { params in
    usleep(UInt32(params.ms * 1000))
    return params
}
server.register(Method<Empty, Empty>("test.garbage")) { _ in
    stdout.writeAll(Array("this is not json\n".utf8))
    return Empty()
}
server.register(Method<Millis, Empty>("test.oversize")) { params in
    stdout.writeAll([UInt8](repeating: UInt8(ascii: "x"), count: Int(params.ms)) + [UInt8(ascii: "\n")])
    return Empty()
}
server.register(Method<Empty, Empty>("test.unknownId")) { _ in
    stdout.writeAll(RPCMessage.response(id: .int(987_654_321), outcome: .success(.null)).line())
    return Empty()
}
server.register(Method<Empty, Empty>("test.closeStdout")) { _ in
    close(STDOUT_FILENO)
    while true { sleep(60) }
}
server.register(Method<Empty, Empty>("test.crash")) { _ in exit(7) }
server.register(Method<JSONValue, Empty>("test.log")) { params in
    PluginLog.warning(params["msg"]?.stringValue ?? "", ["test.field": params["field"] ?? .null])
    FileDescriptorWriter(fd: STDERR_FILENO).writeAll(Array("plain text from the plugin\n".utf8))
    return Empty()
}
server.register(Method<JSONValue, Empty>("test.notify")) { params in
    stdout.writeAll(RPCMessage.notification(method: "invalidate", params: params).line())
    return Empty()
}
server.register(Method<Empty, JSONValue>("test.fail")) { _ in
    throw RPCError(.storageFailure, "simulated storage failure")
}

if let hostile = option("--hostile") { HostileAnswers(mode: hostile).register(on: server) }
if let delay = option("--authenticate-delay-us").flatMap(Int64.init) {
    server.register(ClientStore.authenticate) { params in
        let unknown = params.clientID.hasPrefix("unknown")
        if unknown {
            // Spin rather than sleep: a sleep this short costs a scheduler round trip, far more than asked for.
            var start = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            var now = start
            repeat { clock_gettime(CLOCK_MONOTONIC, &now) } while (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec) < delay * 1000
        }
        return .failure(unknown ? .unknownClient : .wrongSecret)
    }
}
if let trigger = option("--stall-authenticate-when") {
    server.register(Method<JSONValue, JSONValue>("store.revocations")) { _ in ["revocations": .array([]), "last": 0] }
    server.register(Method<JSONValue, JSONValue>("store.get")) { _ in ["client": .null] }
    server.registerConcurrent(Method<JSONValue, JSONValue>("store.authenticate")) { _ in
        while access(trigger, F_OK) == 0 { sleep(3600) }
        return ["authenticated": false, "failure": "unknown_client"]
    }
}

if let trigger = option("--unavailable-when") {
    server.register(Method<JSONValue, JSONValue>("store.revocations")) { _ in ["revocations": .array([]), "last": 0] }
    server.register(Method<JSONValue, JSONValue>("store.get")) { _ in ["client": .null] }
    server.register(Method<JSONValue, JSONValue>("store.authenticate")) { _ in
        if access(trigger, F_OK) == 0 { throw RPCError(.unavailable, "database unreachable") }
        return ["authenticated": false, "failure": "unknown_client"]
    }
}

let status = server.run()
if flag("--ignore-exit") { while true { sleep(60) } }
exit(status)
