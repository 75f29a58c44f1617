import PluginProtocol
import StoreKit

/// Hosts' public signing keys in `gatehouse_signing_keys`; a trigger announces new, changed and deleted keys
/// to every host through the change log (PostgresSchema).
extension PostgresStoreBackend {
    var keepsSigningKeys: Bool { true }

    /// Repeating it is harmless (an upsert by kid), so a lost connection is retried.
    func publishSigningKeys(_ keys: [HostPublicKey], now: Int64) throws {
        try pool.run(retry: true) { connection in
            try connection.transaction {
                // Upsert first, then purge: a key republished with a past notAfter is gone, as the protocol says.
                for key in keys {
                    let jwk = JSONWriter.string(.object(key.jwk.mapValues { .string($0) }))
                    try connection.query("""
                        INSERT INTO gatehouse_signing_keys (kid, alg, jwk, not_before, not_after) VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (kid) DO UPDATE SET alg = $2, jwk = $3, not_before = $4, not_after = $5
                        """, [key.keyID, key.algorithm, jwk, String(key.notBefore), String(key.notAfter)])
                }
                try connection.query("DELETE FROM gatehouse_signing_keys WHERE not_after <= $1", [String(now)])
            }
        }
    }

    /// A row that no longer parses (edited by hand) is left out: a key that cannot be read verifies nothing.
    func signingKeys(now: Int64) throws -> [HostPublicKey] {
        try pool.run(retry: true) { connection in
            let rows = try connection.query("""
                SELECT kid, alg, jwk, not_before, not_after FROM gatehouse_signing_keys WHERE not_after > $1 ORDER BY kid LIMIT $2
                """, [String(now), String(HostSigningKeys.maxKeysListed)])
            var keys: [HostPublicKey] = []
            for row in 0..<rows.count {
                guard let jwk = rows.text(row, 2).flatMap({ try? JSONParser.parse($0) }) else { continue }
                let entry: JSONValue = ["kid": .string(rows.text(row, 0) ?? ""), "alg": .string(rows.text(row, 1) ?? ""), "jwk": jwk,
                                        "notBefore": .int(rows.int(row, 3) ?? 0), "notAfter": .int(rows.int(row, 4) ?? 0)]
                if let key = try? HostPublicKey(json: entry) { keys.append(key) }
            }
            return keys
        }
    }
}
