import Glibc
import PluginProtocol
import Synchronization

/// The policy in force: the built-in one, or a file that is reloaded when it changes or on SIGHUP.
/// A broken file at start is an error; a broken edit later keeps the last good policy and logs why.
final class PolicyFile: Sendable {
    private let path: String?
    private let current: Mutex<(engine: PolicyEngine, identity: [Int64]?, reportedBroken: [Int64]?)>

    init(path: String?) throws(RPCError) {
        self.path = path
        guard let path else {
            current = Mutex((PolicyEngine(policy: .builtIn), nil, nil))
            return
        }
        let identity = Self.identity(path)
        do {
            current = Mutex((PolicyEngine(policy: try Self.load(path)), identity, nil))
        } catch {
            throw RPCError(.policyInvalid, "policy \(path): \(error)")
        }
    }

    var engine: PolicyEngine { current.withLock { $0.engine } }

    /// Reloads if the file changed (or `force`). Returns true when a new policy took effect.
    @discardableResult
    func reload(force: Bool = false) -> Bool {
        guard let path else { return false }
        let identity = Self.identity(path)
        let changed = current.withLock { force || $0.identity != identity }
        guard changed else { return false }
        do {
            let policy = try Self.load(path)
            current.withLock { $0 = (PolicyEngine(policy: policy), identity, nil) }
            PluginLog.info("policy reloaded", ["policy.path": .string(path), "policy.resources": .int(Int64(policy.resources.count))])
            return true
        } catch {
            let report = current.withLock { state -> Bool in
                defer { state.reportedBroken = identity }
                return state.reportedBroken != identity || force
            }
            if report {
                PluginLog.error("policy file is invalid; keeping the last good policy",
                                ["policy.path": .string(path), "error": .string("\(error)")])
            }
            return false
        }
    }

    /// Re-reads the file at once (the host's SIGHUP, forwarded as `reload`). Returns whether a file policy
    /// was loaded; a broken file throws and the last good policy stays in force.
    func reloadNow() throws(RPCError) -> Bool {
        guard let path else { return false }
        let identity = Self.identity(path)
        do {
            let policy = try Self.load(path)
            current.withLock { $0 = (PolicyEngine(policy: policy), identity, nil) }
            PluginLog.info("policy reloaded", ["policy.path": .string(path), "policy.resources": .int(Int64(policy.resources.count))])
            return true
        } catch {
            current.withLock { $0.reportedBroken = identity }
            PluginLog.error("policy file is invalid; keeping the last good policy", ["policy.path": .string(path), "error": .string("\(error)")])
            throw RPCError(.policyInvalid, "policy \(path): \(error)")
        }
    }

    private static func load(_ path: String) throws -> PolicyDocument {
        guard let bytes = readFile(path) else { throw PolicyDocument.Invalid(description: "cannot read the file") }
        return try PolicyDocument(text: bytes)
    }

    /// The whole file, read with plain syscalls: this plugin stays clear of Foundation, which would double
    /// its resident memory for one call.
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            guard bytes.count <= 16 << 20 else { return nil }  // No policy is 16 MiB; refuse rather than grow.
        }
    }

    private static func identity(_ path: String) -> [Int64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
