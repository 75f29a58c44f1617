import Foundation
import Glibc
import PluginProtocol
import StoreKit

/// Clients in one JSON file. Reads are served from memory; a write locks the file against other
/// writers (flock on `<path>.lock`), re-reads it, applies the change and replaces the file atomically
/// (temp file, fsync, rename, fsync of the directory). A watcher reloads the file when someone edits it;
/// a broken edit keeps the last good state and logs where the file is broken.
final class FileStoreBackend: StoreBackend, @unchecked Sendable {
    // @unchecked: `memory` and `loaded` are only touched with `lock` held (serve thread and watcher).
    private let path: String
    private let readOnly: Bool
    private let lock = NSLock()
    private let memory = MemoryStoreBackend()
    private var loaded: FileIdentity?
    private var reportedBroken: FileIdentity?

    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
    }

    init(path: String, readOnly: Bool) throws {
        self.path = path
        self.readOnly = readOnly
        if access(path, F_OK) != 0 {
            guard !readOnly else { throw RPCError(.storageFailure, "\(path) does not exist (file-store is read-only)") }
            try writeFile(FileStoreDocument())
        }
        guard let identity = Self.identity(path) else { throw RPCError(.storageFailure, "cannot stat \(path)") }
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & 0o077 != 0 {
            // A read-only file often comes from a ConfigMap mounted 0644; it holds only salted hashes of
            // high-entropy secrets, so warn. A file this store writes must stay private.
            guard readOnly else { throw RPCError(.storageFailure, "\(path) is readable by other users; run: chmod 600 \(path)") }
            PluginLog.warning("clients file is readable by other users", ["store.path": .string(path)])
        }
        let document = try Self.read(path)
        memory.replaceAll(clients: document.clients, revocations: document.revocations)
        memory.replaceSigningKeys(document.signingKeys)
        loaded = identity
    }

    /// Reloads if the file changed on disk. Returns true if the contents in memory changed.
    func reloadIfChanged() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let identity = Self.identity(path), identity != loaded else { return false }
        do {
            let document = try Self.read(path)
            memory.replaceAll(clients: document.clients, revocations: document.revocations)
            memory.replaceSigningKeys(document.signingKeys)
            loaded = identity
            reportedBroken = nil
            PluginLog.info("reloaded clients file", ["store.path": .string(path), "store.clients": .int(Int64(document.clients.count))])
            return true
        } catch {
            if reportedBroken != identity {
                reportedBroken = identity
                PluginLog.error("clients file is broken; keeping the last good version",
                                ["store.path": .string(path), "error": .string("\(error)")])
            }
            return false
        }
    }

    // MARK: - StoreBackend

    func client(_ id: String) throws -> StoredClient? { try locked { try memory.client(id) } }

    func insert(_ client: StoredClient) throws { try write { try memory.insert(client) } }

    func modify(_ id: String, _ change: (inout StoredClient) throws -> Void) throws -> StoredClient? {
        try write { try memory.modify(id, change) }
    }

    func delete(_ id: String) throws -> Bool { try write { try memory.delete(id) } }

    func list(after: String?, limit: Int) throws -> [StoredClient] { try locked { try memory.list(after: after, limit: limit) } }

    func recordUse(_ id: String, at time: Int64) {
        lock.lock()
        defer { lock.unlock() }
        memory.recordUse(id, at: time)
    }

    func addRevocation(tokenID: String, clientID: String, expiresAt: Int64, now: Int64) throws {
        try write { try memory.addRevocation(tokenID: tokenID, clientID: clientID, expiresAt: expiresAt, now: now) }
    }

    func revocations(after: Int64, now: Int64) throws -> RevocationsResult {
        try locked { try memory.revocations(after: after, now: now) }
    }

    /// Hosts' public signing keys; a read-only file (a reviewed ConfigMap) keeps none.
    var keepsSigningKeys: Bool { !readOnly }

    func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws {
        try write { try memory.publishSigningKeys(keys, now: now) }
    }

    func signingKeys(now: Int64) throws -> [HostPublicKey] { try locked { try memory.signingKeys(now: now) } }

    // MARK: - Writing

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Lock file, refresh from disk, change, write atomically.
    private func write<T>(_ change: () throws -> T) throws -> T {
        guard !readOnly else { throw RPCError(.readOnly, "file-store is read-only; edit \(path) and it reloads") }
        lock.lock()
        defer { lock.unlock() }
        let lockFD = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw RPCError(.storageFailure, "cannot open \(path).lock: \(String(cString: strerror(errno)))") }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 {
            guard errno == EINTR else { throw RPCError(.storageFailure, "cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        // Another process may have written since we last read: start from the file, not from memory.
        if let identity = Self.identity(path), identity != loaded {
            let document: FileStoreDocument
            do {
                document = try Self.read(path)
            } catch {
                throw RPCError(.storageFailure, "\(path) is broken, refusing to overwrite it: \(error)")
            }
            memory.replaceAll(clients: document.clients, revocations: document.revocations)
            memory.replaceSigningKeys(document.signingKeys)
        }
        let snapshot = (Array(memory.clients.values), memory.revocationLog, Array(memory.publishedKeys.values))
        let result: T
        do {
            result = try change()
            try writeFile(FileStoreDocument(clients: Array(memory.clients.values), revocations: memory.revocationLog,
                                            signingKeys: Array(memory.publishedKeys.values)))
        } catch {
            memory.replaceAll(clients: snapshot.0, revocations: snapshot.1)  // Nothing half-applied stays in memory.
            memory.replaceSigningKeys(snapshot.2)
            throw error
        }
        loaded = Self.identity(path)
        return result
    }

    private func writeFile(_ document: FileStoreDocument) throws {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RPCError(.storageFailure, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(document.text.utf8)
        let written = bytes.withUnsafeBytes { FileDescriptorWriter.writeAll(fd: fd, $0) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RPCError(.storageFailure, "cannot replace \(path): \(reason)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)  // The rename itself must survive a crash.
            close(directoryFD)
        }
    }

    private static func read(_ path: String) throws -> FileStoreDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RPCError(.storageFailure, "cannot read \(path)")
        }
        return try FileStoreDocument(text: Array(data))
    }

    private static func identity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}
