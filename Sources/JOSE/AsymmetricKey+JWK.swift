import CLibCrypto
import CryptoPrimitives

/// The public half of a key as JWK members (RFC 7517 §4, RFC 7518 §6.2-6.3, RFC 8037 §2), and keys
/// rebuilt from them: what a JWK Set publishes and what a verifier reads back (another host's keys).
/// Private members (`d`, `p`, `q`, `dp`, `dq`, `qi`) are never produced.
extension AsymmetricKey {
    /// `kty` and the key's public members, base64url without padding; the caller adds `kid`, `use`, `alg`.
    public func publicJWK() throws(JOSEError) -> [String: String] {
        switch algorithm {
        case .rs256:
            return ["kty": "RSA", "n": Base64.encode(try bigNumber(OSSL_PKEY_PARAM_RSA_N), alphabet: .url),
                    "e": Base64.encode(try bigNumber(OSSL_PKEY_PARAM_RSA_E), alphabet: .url)]
        case .es256:
            return ["kty": "EC", "crv": "P-256",
                    "x": Base64.encode(try bigNumber(OSSL_PKEY_PARAM_EC_PUB_X, width: 32), alphabet: .url),
                    "y": Base64.encode(try bigNumber(OSSL_PKEY_PARAM_EC_PUB_Y, width: 32), alphabet: .url)]
        case .edDSA:
            var raw = [UInt8](repeating: 0, count: 32)
            var length = raw.count
            guard EVP_PKEY_get_raw_public_key(pkey, &raw, &length) == 1, length == 32 else {
                throw .openssl("EVP_PKEY_get_raw_public_key")
            }
            return ["kty": "OKP", "crv": "Ed25519", "x": Base64.encode(raw, alphabet: .url)]
        case .hs256: throw JOSEError("HS256 keys have no public half")
        }
    }

    /// A verify-only key from public JWK members, which must fit `algorithm` (RSA ≥ 2048 bits, a point on
    /// P-256, 32 bytes of Ed25519).
    public convenience init(publicJWK jwk: [String: String], algorithm: SignatureAlgorithm) throws(JOSEError) {
        func member(_ name: String) throws(JOSEError) -> [UInt8] {
            guard let text = jwk[name], let bytes = Base64.decode(text, alphabet: .url), !bytes.isEmpty else {
                throw JOSEError("JWK member '\(name)' is missing or not base64url")
            }
            return bytes
        }
        guard jwk["kty"] == algorithm.keyType else { throw JOSEError("JWK kty does not fit \(algorithm.rawValue)") }
        let key: OpaquePointer
        switch algorithm {
        case .rs256:
            let n = try member("n"), e = try member("e")
            guard let built = gatehouse_rsa_public_key(n, Int32(n.count), e, Int32(e.count)) else {
                throw .openssl("EVP_PKEY_fromdata(RSA)")
            }
            key = built
        case .es256:
            let x = try member("x"), y = try member("y")
            guard jwk["crv"] == "P-256", x.count == 32, y.count == 32 else { throw JOSEError("ES256 needs a P-256 JWK") }
            let point = [0x04] + x + y  // SEC 1 §2.3.3 uncompressed point
            guard let built = gatehouse_p256_public_key(point, point.count) else { throw .openssl("EVP_PKEY_fromdata(EC)") }
            key = built
        case .edDSA:
            let x = try member("x")
            guard jwk["crv"] == "Ed25519", x.count == 32 else { throw JOSEError("EdDSA needs an Ed25519 JWK") }
            guard let raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, x, x.count) else {
                throw .openssl("EVP_PKEY_new_raw_public_key")
            }
            key = raw
        case .hs256: throw JOSEError("HS256 keys have no public half")
        }
        try self.init(adopting: key, algorithm: algorithm, isPrivate: false)
    }

    private func bigNumber(_ name: String, width: Int32? = nil) throws(JOSEError) -> [UInt8] {
        var number: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(pkey, name, &number) == 1, let number else { throw .openssl("EVP_PKEY_get_bn_param(\(name))") }
        defer { BN_free(number) }
        let count = width ?? (BN_num_bits(number) + 7) / 8
        var bytes = [UInt8](repeating: 0, count: Int(count))
        guard BN_bn2binpad(number, &bytes, count) == count else { throw .openssl("BN_bn2binpad") }
        return bytes
    }
}
