import CLibCrypto

/// RFC 7518 §3.4: an ES256 signature is R and S as 32-byte big-endian integers, concatenated. OpenSSL
/// produces and expects DER `ECDSA-Sig-Value`; these convert between the two.
enum ECDSASignature {
    static let coordinateBytes = 32

    static func raw(fromDER der: [UInt8]) throws(JOSEError) -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature = parsed else { throw .openssl("d2i_ECDSA_SIG") }
        defer { ECDSA_SIG_free(signature) }
        var output = [UInt8](repeating: 0, count: 2 * coordinateBytes)
        let written = output.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            return BN_bn2binpad(ECDSA_SIG_get0_r(signature), base, Int32(coordinateBytes)) == coordinateBytes
                && BN_bn2binpad(ECDSA_SIG_get0_s(signature), base + coordinateBytes, Int32(coordinateBytes)) == coordinateBytes
        }
        guard written else { throw .openssl("BN_bn2binpad") }
        return output
    }

    /// nil when `raw` is not exactly R‖S: a wrong length is a bad signature, never padded or truncated.
    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 2 * coordinateBytes, let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let (r, s) = raw.withUnsafeBufferPointer { buffer in
            (BN_bin2bn(buffer.baseAddress, Int32(coordinateBytes), nil),
             BN_bin2bn(buffer.baseAddress.map { $0 + coordinateBytes }, Int32(coordinateBytes), nil))
        }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            ERR_clear_error()
            return nil
        }
        guard ECDSA_SIG_set0(signature, r, s) == 1 else {  // On success the signature owns r and s.
            BN_free(r)
            BN_free(s)
            ERR_clear_error()
            return nil
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_ECDSA_SIG(signature, &out)
        guard length > 0, let out else {
            ERR_clear_error()
            return nil
        }
        defer { gatehouse_openssl_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }
}
