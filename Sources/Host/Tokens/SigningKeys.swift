import CryptoPrimitives
import Foundation
import Glibc
import PluginProtocol

/// HS256 signing keys, identified by `kid`. New tokens use the current key; every key in the ring verifies,
/// so a rotation does not void tokens already issued. Kept in `<data>/signing-keys.json`, mode 0600,
/// created on first start.
public struct SigningKeyRing: Sendable {
    public struct Key: Sendable {
        public let id: String
        let secret: [UInt8]
        let mac: HMACKey
        public let createdAt: Int64
        /// The JOSE header of tokens signed with this key, base64url-encoded once: fixed member order, so
        /// every token from one key starts with the same bytes.
        let encodedHeader: [UInt8]

        init(id: String, secret: [UInt8], createdAt: Int64) {
            self.id = id
            self.secret = secret
            self.mac = HMACKey(key: secret)
            self.createdAt = createdAt
            var header: [UInt8] = Array(#"{"alg":"HS256","typ":"at+jwt","kid":"#.utf8)
            JSONWriter.writeString(id, into: &header)
            header.append(UInt8(ascii: "}"))
            encodedHeader = Base64.encodeBytes(header, alphabet: .url)
        }
    }

    public let keys: [Key]
    public let currentID: String

    public var current: Key { keys.first { $0.id == currentID } ?? keys[0] }

    public func key(id: String) -> Key? { keys.first { $0.id == id } }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads the ring, creating it with one fresh key if the file does not exist.
    public static func loadOrCreate(directory: String, now: Int64) throws(Failure) -> SigningKeyRing {
        let path = directory + "/signing-keys.json"
        if access(path, F_OK) != 0 {
            let ring = try SigningKeyRing(keys: [try newKey(now: now)], currentID: nil)
            try ring.save(to: path)
            return ring
        }
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & 0o077 != 0 {
            throw Failure(description: "\(path) is readable by other users; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        do {
            let json = try JSONParser.parse(Array(data))
            let reader = try JSONObjectReader(json, what: "signing keys")
            var keys: [Key] = []
            for entry in reader.members["keys"]?.arrayValue ?? [] {
                let key = try JSONObjectReader(entry, what: "key")
                guard let secret = Base64.decode(try key.string("secret"), alphabet: .url), secret.count >= 32 else {
                    throw JSONShapeError("key secret must be at least 32 bytes of base64url")
                }
                keys.append(Key(id: try key.string("kid"), secret: secret, createdAt: try key.optionalInt("createdAt") ?? 0))
            }
            return try SigningKeyRing(keys: keys, currentID: try reader.optionalString("current"))
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(description: "\(path) is not a valid key file: \(error)")
        }
    }

    init(keys: [Key], currentID: String?) throws(Failure) {
        guard !keys.isEmpty else { throw Failure(description: "no signing keys") }
        self.keys = keys
        self.currentID = currentID ?? keys.last!.id
        guard keys.contains(where: { $0.id == self.currentID }) else {
            throw Failure(description: "current key '\(self.currentID)' is not in the key ring")
        }
    }

    static func newKey(now: Int64) throws(Failure) -> Key {
        do {
            let secret = try SecureRandom.bytes(32)
            let id = try SecureRandom.token(byteCount: 6)
            return Key(id: id, secret: secret, createdAt: now)
        } catch {
            throw Failure(description: "cannot read the system random source: \(error)")
        }
    }

    /// A new current key; keys superseded more than `maxTokenLifetime` ago are dropped, since every token
    /// they signed has expired. The others keep verifying the tokens they signed.
    public func rotated(now: Int64, maxTokenLifetime: Int64) throws(Failure) -> (ring: SigningKeyRing, retired: [String]) {
        let ordered = keys.sorted { $0.createdAt < $1.createdAt }
        var kept: [Key] = []
        var retired: [String] = []
        for (index, key) in ordered.enumerated() {
            let supersededAt = index + 1 < ordered.count ? ordered[index + 1].createdAt : now
            if supersededAt + maxTokenLifetime < now { retired.append(key.id) } else { kept.append(key) }
        }
        let fresh = try Self.newKey(now: now)
        return (try SigningKeyRing(keys: kept + [fresh], currentID: fresh.id), retired)
    }

    public static func path(in directory: String) -> String { directory + "/signing-keys.json" }

    /// Writes the ring atomically with mode 0600.
    public func save(to path: String) throws(Failure) {
        let document: JSONValue = [
            "current": .string(currentID),
            "keys": .array(keys.map { ["kid": .string($0.id), "secret": .string(Base64.encode($0.secret, alphabet: .url)),
                                       "createdAt": .int($0.createdAt)] }),
        ]
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(JSONWriter.pretty(document).utf8)
        let ok = bytes.withUnsafeBytes { FileDescriptorWriter.writeAll(fd: fd, $0) } && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot save \(path): \(String(cString: strerror(errno)))")
        }
    }
}
