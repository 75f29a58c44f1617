import CryptoPrimitives
import Foundation
import Glibc
import JOSE
import JSON

/// The token signing keys, identified by `kid`: one active key signs, the published next key waits to take
/// over, retiring keys verify the tokens they signed until those expire (`SigningKeyRing+Lifecycle.swift`).
/// Kept in `<data>/signing-keys.json`, mode 0600, created on first start; private keys never leave it.
public struct SigningKeyRing: Sendable {
    public let keys: [SigningKey]
    public let currentID: String
    /// When this ring was created. No JWK Set can have been served before it, so a key published with the
    /// ring may sign at once; any later key waits one JWK Set max-age.
    public let createdAt: Int64
    /// Keys pulled at once with `gatehouse keys withdraw` (`SigningKeyRing+Withdrawal.swift`): no longer here
    /// to verify or sign, remembered (public half only) so `keys list` shows them and the other hosts are told.
    public let withdrawn: [Withdrawal]

    public typealias Key = SigningKey

    public var current: SigningKey { keys.first { $0.id == currentID } ?? keys[0] }

    public func key(id: String) -> SigningKey? { keys.first { $0.id == id } }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    init(keys: [SigningKey], currentID: String?, createdAt: Int64, withdrawn: [Withdrawal] = []) throws(Failure) {
        guard let last = keys.last else { throw Failure(description: "no signing keys") }
        self.keys = keys
        self.currentID = currentID ?? last.id
        self.createdAt = createdAt
        self.withdrawn = withdrawn
        guard keys.contains(where: { $0.id == self.currentID }) else {
            throw Failure(description: "current key '\(self.currentID)' is not in the key ring")
        }
    }

    public static func path(in directory: String) -> String { directory + "/signing-keys.json" }

    /// Loads the ring, creating it if the file does not exist: an active key of `algorithm` and, for an
    /// asymmetric one, the published next key.
    public static func loadOrCreate(directory: String, now: Int64, algorithm: SignatureAlgorithm = .rs256) throws(Failure)
        -> SigningKeyRing
    {
        let path = path(in: directory)
        if access(path, F_OK) != 0 {
            let ring = try create(algorithm, now: now)
            try ring.save(to: path)
            return ring
        }
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & 0o077 != 0 {
            throw Failure(description: "\(path) is readable by other users; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        do {
            return try SigningKeyRing(json: try JSONParser.parse(Array(data)), now: now)
        } catch let error as Failure {
            throw Failure(description: "\(path) is not a valid key file: \(error)")
        } catch {
            throw Failure(description: "\(path) is not a valid key file: \(error)")
        }
    }

    static func create(_ algorithm: SignatureAlgorithm, now: Int64) throws(Failure) -> SigningKeyRing {
        var active = try SigningKey.generate(algorithm, now: now)
        active.activatedAt = now
        let next = algorithm.isAsymmetric ? [try SigningKey.generate(algorithm, now: now)] : []
        return try SigningKeyRing(keys: [active] + next, currentID: active.id, createdAt: now)
    }

    /// Reads the key file. Files written before asymmetric keys (no `alg`, no lifecycle times) are HS256
    /// rings: the current key is active, older ones retired when their successor was made.
    init(json: JSONValue, now: Int64) throws {
        let reader = try JSONObjectReader(json, what: "signing keys")
        var keys: [SigningKey] = []
        for entry in reader.members["keys"]?.arrayValue ?? [] {
            let key = try JSONObjectReader(entry, what: "key")
            let name = try key.optionalString("alg") ?? SignatureAlgorithm.hs256.rawValue
            guard let algorithm = SignatureAlgorithm(rawValue: name) else { throw JSONShapeError("unknown key algorithm '\(name)'") }
            let material: SigningKey.Material
            if algorithm == .hs256 {
                guard let secret = Base64.decode(try key.string("secret"), alphabet: .url), secret.count >= 32 else {
                    throw JSONShapeError("key secret must be at least 32 bytes of base64url")
                }
                material = .secret(secret, HMACKey(key: secret))
            } else {
                material = .asymmetric(try AsymmetricKey(privateKeyPEM: try key.string("privateKey"), algorithm: algorithm))
            }
            var loaded = SigningKey(id: try key.string("kid"), algorithm: algorithm, material: material,
                                    createdAt: try key.optionalInt("createdAt") ?? 0)
            loaded.activatedAt = try key.optionalInt("activatedAt")
            loaded.retiredAt = try key.optionalInt("retiredAt")
            loaded.activateAt = try key.optionalInt("activateAt")
            keys.append(loaded)
        }
        guard Set(keys.map(\.id)).count == keys.count else { throw JSONShapeError("two keys share a kid") }
        let withdrawn = try (reader.members["withdrawn"]?.arrayValue ?? []).map { try Withdrawal(json: $0) }
        let currentID = try reader.optionalString("current") ?? keys.max { $0.createdAt < $1.createdAt }?.id
        if reader.members["createdAt"] == nil { Self.upgrade(&keys, currentID: currentID) }
        // A ring from before the JWK Set existed: nothing was ever published from it, so now counts as its start.
        try self.init(keys: keys, currentID: currentID, createdAt: try reader.optionalInt("createdAt") ?? now, withdrawn: withdrawn)
    }

    private static func upgrade(_ keys: inout [SigningKey], currentID: String?) {
        let ordered = keys.map(\.createdAt).sorted()
        for index in keys.indices {
            keys[index].activatedAt = keys[index].activatedAt ?? keys[index].createdAt
            if keys[index].id != currentID, keys[index].retiredAt == nil {
                keys[index].retiredAt = ordered.first { $0 > keys[index].createdAt } ?? keys[index].createdAt
            }
        }
    }

    /// Writes the ring atomically with mode 0600.
    public func save(to path: String) throws(Failure) {
        var entries: [JSONValue] = []
        for key in keys {
            var entry: [String: JSONValue] = ["kid": .string(key.id), "alg": .string(key.algorithm.rawValue),
                                              "createdAt": .int(key.createdAt)]
            switch key.material {
            case .secret(let secret, _): entry["secret"] = .string(Base64.encode(secret, alphabet: .url))
            case .asymmetric(let pair):
                do { entry["privateKey"] = .string(try pair.privateKeyPEM()) } catch {
                    throw Failure(description: "cannot encode key \(key.id): \(error)")
                }
            }
            if let at = key.activatedAt { entry["activatedAt"] = .int(at) }
            if let at = key.retiredAt { entry["retiredAt"] = .int(at) }
            if let at = key.activateAt { entry["activateAt"] = .int(at) }
            entries.append(.object(entry))
        }
        var members: [String: JSONValue] = ["current": .string(currentID), "createdAt": .int(createdAt), "keys": .array(entries)]
        if !withdrawn.isEmpty { members["withdrawn"] = .array(withdrawn.map(\.json)) }
        let document = JSONValue.object(members)
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
