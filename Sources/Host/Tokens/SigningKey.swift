import CryptoPrimitives
import JOSE
import JSON

/// One token signing key of the ring: its `kid`, algorithm, key material and place in the lifecycle
/// (`SigningKeyRing+Lifecycle.swift`). The private half never leaves this type except into the 0600 key file.
public struct SigningKey: Sendable {
    enum Material: Sendable {
        /// HS256: a 256-bit secret, with its HMAC pads absorbed once.
        case secret([UInt8], HMACKey)
        case asymmetric(AsymmetricKey)
    }

    public let id: String
    public let algorithm: SignatureAlgorithm
    let material: Material
    /// When it was made and, for an asymmetric key, first published in the JWK Set.
    public let createdAt: Int64
    /// When it started signing; nil while it is the published next key.
    public var activatedAt: Int64?
    /// When a newer key took over; it keeps verifying until every token it signed has expired.
    public var retiredAt: Int64?
    /// A requested switch to this key that must wait until it has been published for one JWK Set max-age.
    public var activateAt: Int64?
    /// The JOSE header of tokens signed with this key, base64url-encoded once: fixed member order, so
    /// every token from one key starts with the same bytes.
    let encodedHeader: [UInt8]

    init(id: String, algorithm: SignatureAlgorithm, material: Material, createdAt: Int64) {
        self.id = id
        self.algorithm = algorithm
        self.material = material
        self.createdAt = createdAt
        // RFC 9068 §2.1: typ at+jwt; the kid names the key in the JWK Set.
        var header: [UInt8] = Array(#"{"alg":"#.utf8)
        JSONWriter.writeString(algorithm.rawValue, into: &header)
        header += Array(#","typ":"at+jwt","kid":"#.utf8)
        JSONWriter.writeString(id, into: &header)
        header.append(UInt8(ascii: "}"))
        encodedHeader = Base64.encodeBytes(header, alphabet: .url)
    }

    /// A fresh key: 32 random bytes for HS256, a libcrypto key pair otherwise. The `kid` is random too, so
    /// it says nothing about the key and never repeats across hosts.
    static func generate(_ algorithm: SignatureAlgorithm, now: Int64) throws(SigningKeyRing.Failure) -> SigningKey {
        do {
            let id = try SecureRandom.token(byteCount: 9)
            if algorithm == .hs256 {
                let secret = try SecureRandom.bytes(32)
                return SigningKey(id: id, algorithm: .hs256, material: .secret(secret, HMACKey(key: secret)), createdAt: now)
            }
            return SigningKey(id: id, algorithm: algorithm, material: .asymmetric(try AsymmetricKey.generate(algorithm)),
                              createdAt: now)
        } catch let error as SecureRandom.Failure {
            throw SigningKeyRing.Failure(description: "cannot read the system random source: \(error)")
        } catch {
            throw SigningKeyRing.Failure(description: "cannot generate a \(algorithm.rawValue) key: \(error)")
        }
    }

    func sign(_ input: [UInt8]) throws(JOSEError) -> [UInt8] {
        switch material {
        case .secret(_, let mac): return mac.authenticationCode(for: input)
        case .asymmetric(let key): return try key.sign(input)
        }
    }

    func verify(_ signature: [UInt8], for input: UnsafeRawBufferPointer) -> Bool {
        switch material {
        case .secret(_, let mac): return mac.isValid(signature, for: input)
        case .asymmetric(let key): return key.verify(signature, for: input)
        }
    }

    /// The JWK Set entry (RFC 7517 §4): public members only, with `kid`, `use: sig` and `alg`. Nil for HS256,
    /// whose secret is never published.
    func publicJWK() -> JSONValue? {
        guard case .asymmetric(let key) = material, let members = try? key.publicJWK() else { return nil }
        var jwk = members.mapValues { JSONValue.string($0) }
        jwk["kid"] = .string(id)
        jwk["use"] = "sig"
        jwk["alg"] = .string(algorithm.rawValue)
        return .object(jwk)
    }
}
