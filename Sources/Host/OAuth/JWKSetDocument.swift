import JOSE
import PluginProtocol

/// A client's JWK Set (RFC 7517 §5) as fetched from its `jwksUri`, reduced to the keys an assertion may be
/// verified with. Parsed with our JSON code and imported with `AsymmetricKey(publicJWK:)`, the same import as
/// registered keys, so a key at a URL is held to the rules of a registered one (RSA >= 2048, P-256, Ed25519).
enum JWKSetDocument {
    /// No more keys are considered than a client may register: a set of thousands would cost a verification
    /// each for an assertion without a `kid`.
    static let maxKeys = ClientKeys.maxKeysPerClient

    /// RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2: members that only a private (or symmetric) key has. A URL
    /// that publishes one has leaked its key: the whole set is refused, not just that key.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    struct Refused: Error, Equatable {
        var reason: String
    }

    /// The usable keys of `body`, at most `maxKeys`. Keys that are not for signatures (`use`, `key_ops`), of
    /// another type or algorithm, or that do not import are skipped; anything that is not a JWK Set, or a set
    /// with a private member, is refused.
    static func keys(_ body: [UInt8]) -> Result<[PublicKeyInfo], Refused> {
        guard let document = try? JSONParser.parse(body, maxDepth: 8), let entries = document["keys"]?.arrayValue else {
            return .failure(Refused(reason: "not a JWK Set (RFC 7517 §5: an object with a \"keys\" array)"))
        }
        var keys: [PublicKeyInfo] = []
        for (index, entry) in entries.enumerated() {
            guard let members = entry.objectValue else { continue }
            if members.keys.contains(where: privateMembers.contains) {
                return .failure(Refused(reason: "key \(index) has private key members"))
            }
            guard keys.count < maxKeys, let key = key(members, index: index) else { continue }
            keys.append(key)
        }
        return .success(keys)
    }

    private static func key(_ members: JSONObject, index: Int) -> PublicKeyInfo? {
        // RFC 7517 §4.2-4.3: a key meant for encryption only is not one to verify a signature with.
        if let use = members["use"], use.stringValue != "sig" { return nil }
        if let operations = members["key_ops"], operations.arrayValue?.contains(where: { $0.stringValue == "verify" }) != true { return nil }
        var jwk: [String: String] = [:]
        for name in PublicKeyInfo.publicMembers {
            guard let value = members[name] else { continue }
            guard let text = value.stringValue, text.utf8.count <= 1024 else { return nil }
            jwk[name] = text
        }
        // `alg` is optional (RFC 7517 §4.4): without it the key type and curve name the one algorithm we allow.
        let inferred: String?
        switch (jwk["kty"], jwk["crv"]) {
        case ("RSA", _): inferred = "RS256"
        case ("EC", "P-256"): inferred = "ES256"
        case ("OKP", "Ed25519"): inferred = "EdDSA"
        default: inferred = nil
        }
        let name = members["alg"].map { $0.stringValue ?? "" } ?? inferred
        guard let name, name == inferred, let algorithm = AssertionVerifier.allowedAlgorithms[name],
            (try? AsymmetricKey(publicJWK: jwk, algorithm: algorithm)) != nil
        else { return nil }
        // A key without a `kid` is meant for assertions without one. Its stand-in id (NUL and its position) is
        // no kid a client would send; one that did would still need a signature by this key.
        let kid = members["kid"]?.stringValue.flatMap { (1...256).contains($0.utf8.count) ? $0 : nil } ?? "\u{0}\(index)"
        return PublicKeyInfo(keyID: kid, algorithm: name, jwk: jwk)
    }
}
