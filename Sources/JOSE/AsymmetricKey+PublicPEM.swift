import CLibCrypto

/// Public keys from PEM (`-----BEGIN PUBLIC KEY-----`, X.509 SubjectPublicKeyInfo, RFC 5280 §4.1.2.7): what
/// `openssl pkey -pubout` writes and what an operator registers for a secretless client. The algorithm
/// follows from the key: RSA is RS256, P-256 is ES256, Ed25519 is EdDSA; anything else is refused.
extension AsymmetricKey {
    public convenience init(publicKeyPEM pem: String) throws(JOSEError) {
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let parsed else { throw .openssl("PEM_read_bio_PUBKEY") }
        let algorithm: SignatureAlgorithm
        switch EVP_PKEY_get_base_id(parsed) {
        case EVP_PKEY_RSA: algorithm = .rs256
        case EVP_PKEY_EC: algorithm = .es256
        case EVP_PKEY_ED25519: algorithm = .edDSA
        default:
            EVP_PKEY_free(parsed)
            throw JOSEError("only RSA (2048 bits or more), P-256 and Ed25519 keys are accepted")
        }
        // `adopting` checks the size and curve (RSA >= 2048, P-256 only) and frees the key if it does not fit.
        try self.init(adopting: parsed, algorithm: algorithm, isPrivate: false)
    }
}
