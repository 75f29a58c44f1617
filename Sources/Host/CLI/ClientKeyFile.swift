import CryptoPrimitives
import Foundation
import JOSE
import PluginProtocol

/// A public key file for `client add --public-key` / `client update --add-public-key`: PEM
/// (`openssl pkey -pubout`) or a JWK (RFC 7517 §4; a JWK Set holding one key is accepted too). RSA of 2048
/// bits or more, P-256 and Ed25519 only; private keys are refused, so none is ever sent to a store.
enum ClientKeyFile {
    static let maxFileSize = 65_536

    static func read(_ path: String, keyID: String?) -> Result<PublicKeyInfo, CLIError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(CLIError(.usage, "cannot read public key file \(path)"))
        }
        guard data.count <= maxFileSize, let text = String(data: data, encoding: .utf8) else {
            return .failure(CLIError(.usage, "\(path) is not a PEM or JWK public key file"))
        }
        if text.contains("PRIVATE KEY") {
            return .failure(CLIError(.usage, "\(path) holds a private key; register its public half "
                + "(openssl pkey -in \(path) -pubout -out public.pem): the private key stays with the client"))
        }
        let parsed: Result<(AsymmetricKey, String?), CLIError> = text.contains("-----BEGIN")
            ? pem(text, path) : jwk(text, path)
        return parsed.flatMap { key, fileKeyID in
            let members: [String: String]
            do {
                members = try key.publicJWK()
            } catch {
                return .failure(CLIError(.usage, "\(path): \(error)"))
            }
            let kid = keyID ?? fileKeyID ?? thumbprint(members)
            guard ClientID.isValid(kid) else {
                return .failure(CLIError(.usage, "key id '\(kid.prefix(64))' must be 1-128 characters of A-Z a-z 0-9 . _ ~ -"))
            }
            return .success(PublicKeyInfo(keyID: kid, algorithm: key.algorithm.rawValue, jwk: members))
        }
    }

    private static func pem(_ text: String, _ path: String) -> Result<(AsymmetricKey, String?), CLIError> {
        guard text.contains("-----BEGIN PUBLIC KEY-----") else {
            return .failure(CLIError(.usage, "\(path): expected -----BEGIN PUBLIC KEY----- (openssl pkey -pubout writes it)"))
        }
        do {
            return .success((try AsymmetricKey(publicKeyPEM: text), nil))
        } catch {
            return .failure(CLIError(.usage, "\(path): \(error.description); accepted: RSA >= 2048 bits, P-256, Ed25519"))
        }
    }

    private static func jwk(_ text: String, _ path: String) -> Result<(AsymmetricKey, String?), CLIError> {
        guard var object = (try? JSONParser.parse(text, maxDepth: 4))?.objectValue else {
            return .failure(CLIError(.usage, "\(path) is neither a PEM public key nor a JWK"))
        }
        if let keys = object["keys"]?.arrayValue {
            guard keys.count == 1, let only = keys[0].objectValue else {
                return .failure(CLIError(.usage, "\(path): a JWK Set must hold exactly one key here; add keys one at a time"))
            }
            object = only
        }
        guard object["d"] == nil else {
            return .failure(CLIError(.usage, "\(path) is a private JWK (it has \"d\"); register only its public members"))
        }
        var members: [String: String] = [:]
        for name in PublicKeyInfo.publicMembers { members[name] = object[name]?.stringValue }
        let algorithm: SignatureAlgorithm
        switch (members["kty"], members["crv"]) {
        case ("RSA", _): algorithm = .rs256
        case ("EC", "P-256"): algorithm = .es256
        case ("OKP", "Ed25519"): algorithm = .edDSA
        default: return .failure(CLIError(.usage, "\(path): only RSA (2048 bits or more), P-256 and Ed25519 keys are accepted"))
        }
        if let alg = object["alg"]?.stringValue, alg != algorithm.rawValue {
            return .failure(CLIError(.usage, "\(path): alg \(alg.prefix(16)) is not accepted for this key; use \(algorithm.rawValue)"))
        }
        do {
            return .success((try AsymmetricKey(publicJWK: members, algorithm: algorithm), object["kid"]?.stringValue))
        } catch {
            return .failure(CLIError(.usage, "\(path): \(error)"))
        }
    }

    /// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order, no whitespace.
    static func thumbprint(_ jwk: [String: String]) -> String {
        let required: [String]
        switch jwk["kty"] {
        case "RSA": required = ["e", "kty", "n"]
        case "EC": required = ["crv", "kty", "x", "y"]
        default: required = ["crv", "kty", "x"]
        }
        let canonical = "{" + required.map { "\"\($0)\":\"\(jwk[$0] ?? "")\"" }.joined(separator: ",") + "}"
        return Base64.encode(SHA256.hash(Array(canonical.utf8)), alphabet: .url)
    }
}
