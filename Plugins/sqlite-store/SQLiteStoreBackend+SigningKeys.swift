import PluginProtocol
import StoreKit

/// Hosts' public signing keys in the `signing_keys` table. Every host sharing the file sees a publication
/// through its change watcher (any write changes the file), which sends `invalidate`.
extension SQLiteStoreBackend {
    var keepsSigningKeys: Bool { true }

    func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws {
        let purge = try db.prepare("DELETE FROM signing_keys WHERE not_after <= ?1")
        let upsert = try db.prepare("""
            INSERT INTO signing_keys (kid, alg, jwk, not_before, not_after) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (kid) DO UPDATE SET alg = ?2, jwk = ?3, not_before = ?4, not_after = ?5
            """)
        try write {
            // Upsert first, then purge: a key republished with a past notAfter is gone, as the protocol says.
            for key in keys {
                let jwk = JSONWriter.string(.object(key.jwk.mapValues { .string($0) }))
                try upsert.bind(.text(key.keyID), .text(key.algorithm), .text(jwk), .integer(key.notBefore), .integer(key.notAfter)).run()
            }
            try purge.bind(.integer(now)).run()
        }
    }

    /// A row that no longer parses (edited by hand) is left out: a key that cannot be read verifies nothing.
    func signingKeys(now: Int64) throws -> [HostPublicKey] {
        let select = try db.prepare("SELECT kid, alg, jwk, not_before, not_after FROM signing_keys WHERE not_after > ?1 ORDER BY kid LIMIT ?2")
        select.bind(.integer(now), .integer(Int64(HostSigningKeys.maxKeysListed)))
        var keys: [HostPublicKey] = []
        while try select.step() {
            guard let jwk = select.text(2).flatMap({ try? JSONParser.parse($0) }) else { continue }
            let entry: JSONValue = ["kid": .string(select.text(0) ?? ""), "alg": .string(select.text(1) ?? ""), "jwk": jwk,
                                    "notBefore": .int(select.int(3) ?? 0), "notAfter": .int(select.int(4) ?? 0)]
            if let key = try? HostPublicKey(json: entry) { keys.append(key) }
        }
        return keys
    }
}
