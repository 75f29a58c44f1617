import PluginProtocol
import StoreKit

/// The file-store file: one JSON document people can read, review and keep in git.
///
/// ```json
/// {
///   "version": 1,
///   "clients": [{"id": "prometheus", "name": "Prometheus", "role": "scraper", "allowedScopes": ["metrics"],
///                "defaultScopes": ["metrics"], "enabled": true, "createdAt": 1764000000, "updatedAt": 1764000000,
///                "instance": "q3Zs0nGk2xR8yT1w",
///                "secrets": [{"verifier": "sha256-salted-v1$…$…", "createdAt": 1764000000}]}],
///   "revocations": [{"seq": 1, "jti": "…", "clientId": "prometheus", "expiresAt": 1764003600}],
///   "signingKeys": [{"kid": "…", "alg": "RS256", "jwk": {"kty": "RSA", "n": "…", "e": "AQAB"}, "notBefore": …, "notAfter": …}]
/// }
/// ```
/// Only verifiers (salted hashes) are stored, never secrets; `signingKeys` (hosts' public keys, written by
/// the hosts, present only once one publishes) holds public JWK members only.
struct FileStoreDocument {
    static let version: Int64 = 1

    var clients: [StoredClient] = []
    var revocations: [(seq: Int64, tokenID: String, clientID: String, expiresAt: Int64)] = []
    var signingKeys: [HostPublicKey] = []

    init(clients: [StoredClient] = [], revocations: [(seq: Int64, tokenID: String, clientID: String, expiresAt: Int64)] = [],
         signingKeys: [HostPublicKey] = [])
    {
        self.clients = clients
        self.revocations = revocations
        self.signingKeys = signingKeys
    }

    /// Reads and validates a document; errors say where (line and column, or which client and field).
    init(text: [UInt8]) throws(RPCError) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text)
        } catch {
            let (line, column) = Self.position(of: error.offset, in: text)
            throw RPCError(.storageFailure, "not valid JSON at line \(line), column \(column): \(error.message)")
        }
        do {
            let reader = try JSONObjectReader(json, what: "document")
            let version = try reader.optionalInt("version") ?? Self.version
            guard version == Self.version else { throw JSONShapeError("unsupported version \(version) (this file-store reads \(Self.version))") }
            var seen: Set<String> = []
            for (index, entry) in (reader.members["clients"]?.arrayValue ?? []).enumerated() {
                let client: StoredClient
                do {
                    client = try Self.client(entry)
                    try ClientValidation.validate(client.record)
                    try ClientValidation.validate(keys: client.record.publicKeys)
                } catch let error as JSONShapeError {
                    throw JSONShapeError("clients[\(index)]: \(error.message)")
                } catch let error as RPCError {
                    throw JSONShapeError("clients[\(index)] (\(entry["id"]?.stringValue ?? "?")): \(error.message)")
                } catch {
                    throw JSONShapeError("clients[\(index)]: \(error)")
                }
                guard seen.insert(client.record.id).inserted else {
                    throw JSONShapeError("clients[\(index)]: duplicate id '\(client.record.id)'")
                }
                clients.append(client)
            }
            for (index, entry) in (reader.members["revocations"]?.arrayValue ?? []).enumerated() {
                do {
                    let revocation = try JSONObjectReader(entry, what: "revocation")
                    revocations.append((try revocation.int("seq"), try revocation.string("jti"), try revocation.string("clientId"),
                                        try revocation.int("expiresAt")))
                } catch {
                    throw JSONShapeError("revocations[\(index)]: \(error)")
                }
            }
            for (index, entry) in (reader.members["signingKeys"]?.arrayValue ?? []).enumerated() {
                do { signingKeys.append(try HostPublicKey(json: entry)) } catch { throw JSONShapeError("signingKeys[\(index)]: \(error.message)") }
            }
        } catch let error as JSONShapeError {
            throw RPCError(.storageFailure, error.message)
        } catch {
            throw RPCError(.storageFailure, "\(error)")
        }
    }

    var text: String {
        var document: JSONValue = [
            "version": .int(Self.version),
            "clients": .array(clients.sorted { $0.record.id < $1.record.id }.map(Self.json)),
            "revocations": .array(revocations.map {
                ["seq": .int($0.seq), "jti": .string($0.tokenID), "clientId": .string($0.clientID), "expiresAt": .int($0.expiresAt)]
            }),
        ]
        if !signingKeys.isEmpty, case .object(var members) = document {
            members["signingKeys"] = .array(signingKeys.sorted { $0.keyID < $1.keyID }.map(\.json))
            document = .object(members)
        }
        return JSONWriter.pretty(document)
    }

    private static func client(_ json: JSONValue) throws -> StoredClient {
        var record = try ClientRecord(json: json)
        record.secrets = []
        var secrets: [StoredSecret] = []
        for entry in json["secrets"]?.arrayValue ?? [] {
            let reader = try JSONObjectReader(entry, what: "secret")
            secrets.append(StoredSecret(verifier: try reader.string("verifier"), createdAt: try reader.optionalInt("createdAt") ?? 0,
                                        expiresAt: try reader.optionalInt("expiresAt")))
        }
        return StoredClient(record: record, secrets: secrets)
    }

    private static func json(_ client: StoredClient) -> JSONValue {
        guard case .object(var members) = client.record.json else { return .null }
        members["secrets"] = .array(client.secrets.map { secret in
            var entry: [String: JSONValue] = ["verifier": .string(secret.verifier), "createdAt": .int(secret.createdAt)]
            if let expiresAt = secret.expiresAt { entry["expiresAt"] = .int(expiresAt) }
            return .object(entry)
        })
        members["lastUsedAt"] = nil  // Not persisted: it would rewrite a reviewed file on every token.
        return .object(members)
    }

    private static func position(of offset: Int, in text: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in text.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
