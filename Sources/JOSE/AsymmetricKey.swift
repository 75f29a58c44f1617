import CLibCrypto

/// An RSA, P-256 or Ed25519 key held by libcrypto, for one JWS algorithm. A private key signs and verifies;
/// a public one (from a JWK) only verifies. The `EVP_PKEY` is freed when the last reference goes.
public final class AsymmetricKey: @unchecked Sendable {
    // @unchecked: `pkey` is set once in init and never mutated; OpenSSL 3 documents a fully built EVP_PKEY
    // as safe to use from several threads at once for signing and verifying (each call has its own
    // EVP_MD_CTX), which is all this class does with it.
    let pkey: OpaquePointer
    public let algorithm: SignatureAlgorithm
    public let isPrivate: Bool

    /// Smallest RSA modulus accepted, for keys made here and keys read from PEM or JWK (RFC 7518 §3.3).
    public static let minimumRSABits: Int32 = 2048

    init(adopting pkey: OpaquePointer, algorithm: SignatureAlgorithm, isPrivate: Bool) throws(JOSEError) {
        do {
            try Self.check(pkey, fits: algorithm)
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
        self.pkey = pkey
        self.algorithm = algorithm
        self.isPrivate = isPrivate
    }

    deinit { EVP_PKEY_free(pkey) }

    /// A fresh key from the system's CSPRNG (through libcrypto's DRBG). `EVP_PKEY_Q_keygen` is a variadic
    /// macro Swift cannot call, so this spells out the `EVP_PKEY_CTX` steps.
    public static func generate(_ algorithm: SignatureAlgorithm, rsaBits: Int32 = 2048) throws(JOSEError) -> AsymmetricKey {
        let id: Int32
        switch algorithm {
        case .rs256: id = EVP_PKEY_RSA
        case .es256: id = EVP_PKEY_EC
        case .edDSA: id = EVP_PKEY_ED25519
        case .hs256: throw JOSEError("HS256 keys are symmetric secrets, not asymmetric keys")
        }
        guard let context = EVP_PKEY_CTX_new_id(id, nil) else { throw .openssl("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .openssl("EVP_PKEY_keygen_init") }
        switch algorithm {
        case .rs256:
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, max(rsaBits, minimumRSABits)) == 1 else {
                throw .openssl("EVP_PKEY_CTX_set_rsa_keygen_bits")
            }
        case .es256:
            guard EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) == 1 else {
                throw .openssl("EVP_PKEY_CTX_set_ec_paramgen_curve_nid")
            }
        case .edDSA, .hs256: break
        }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .openssl("EVP_PKEY_generate") }
        return try AsymmetricKey(adopting: key, algorithm: algorithm, isPrivate: true)
    }

    /// Reads a PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`) that must fit `algorithm`.
    public convenience init(privateKeyPEM pem: String, algorithm: SignatureAlgorithm) throws(JOSEError) {
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let parsed else { throw .openssl("PEM_read_bio_PrivateKey") }
        try self.init(adopting: parsed, algorithm: algorithm, isPrivate: true)
    }

    /// The private key as PKCS#8 PEM, unencrypted: it is written only to a 0600 file in the data directory.
    public func privateKeyPEM() throws(JOSEError) -> String {
        guard isPrivate else { throw JOSEError("a public key has no private PEM") }
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openssl("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) == 1 else { throw .openssl("PEM_write_bio_PrivateKey") }
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = gatehouse_bio_mem_data(bio, &data)
        guard length > 0, let data else { throw .openssl("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// A JWS signature over `message` (RFC 7515 §5.1), in the form the algorithm's RFC defines.
    public func sign(_ message: UnsafeRawBufferPointer) throws(JOSEError) -> [UInt8] {
        guard isPrivate else { throw JOSEError("a public key cannot sign") }
        guard let context = EVP_MD_CTX_new() else { throw .openssl("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        // Ed25519 hashes internally (PureEdDSA): no digest is named.
        guard EVP_DigestSignInit(context, nil, algorithm == .edDSA ? nil : EVP_sha256(), nil, pkey) == 1 else {
            throw .openssl("EVP_DigestSignInit")
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
        else { throw .openssl("EVP_DigestSign") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
        else { throw .openssl("EVP_DigestSign") }
        signature.removeLast(signature.count - length)
        return algorithm == .es256 ? try ECDSASignature.raw(fromDER: signature) : signature
    }

    public func sign(_ message: [UInt8]) throws(JOSEError) -> [UInt8] {
        let result: Result<[UInt8], JOSEError> = message.withUnsafeBytes { raw in
            do throws(JOSEError) { return .success(try sign(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Whether `signature` is this key's JWS signature over `message`. Any malformed input is `false`.
    public func verify(_ signature: [UInt8], for message: UnsafeRawBufferPointer) -> Bool {
        let encoded: [UInt8]
        switch algorithm {
        case .es256:
            guard let der = ECDSASignature.der(fromRaw: signature) else { return false }
            encoded = der
        case .rs256:
            guard signature.count == Int(EVP_PKEY_get_size(pkey)) else { return false }
            encoded = signature
        case .edDSA:
            guard signature.count == 64 else { return false }
            encoded = signature
        case .hs256: return false
        }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        let ok = EVP_DigestVerifyInit(context, nil, algorithm == .edDSA ? nil : EVP_sha256(), nil, pkey) == 1
            && EVP_DigestVerify(context, encoded, encoded.count, message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                message.count) == 1
        if !ok { ERR_clear_error() }  // A bad signature leaves a reason on the queue; it is not an error here.
        return ok
    }

    public func verify(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        message.withUnsafeBytes { verify(signature, for: $0) }
    }

    /// The key must be of the algorithm's type and size, so a key file cannot quietly weaken a token.
    private static func check(_ pkey: OpaquePointer, fits algorithm: SignatureAlgorithm) throws(JOSEError) {
        switch (algorithm, EVP_PKEY_get_base_id(pkey)) {
        case (.rs256, EVP_PKEY_RSA):
            guard EVP_PKEY_get_bits(pkey) >= minimumRSABits else { throw JOSEError("RS256 needs an RSA key of at least 2048 bits") }
        case (.es256, EVP_PKEY_EC):
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, &name, name.count, &length) == 1,
                String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1"
            else {
                ERR_clear_error()
                throw JOSEError("ES256 needs a P-256 key")
            }
        case (.edDSA, EVP_PKEY_ED25519): break
        default: throw JOSEError("the key does not fit \(algorithm.rawValue)")
        }
    }
}
