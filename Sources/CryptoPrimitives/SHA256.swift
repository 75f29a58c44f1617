/// SHA-256 (FIPS 180-4), streaming.
///
/// Written here because the product takes no package dependencies; verified against the NIST vectors and
/// differentially against Python's `hashlib` (Tests/PluginProtocolTests/CryptoTests). Hot on the token path
/// (every HMAC is two of these), so the compression function works on a stack buffer without allocating.
public struct SHA256: Sendable {
    public static let digestByteCount = 32
    public static let blockByteCount = 64

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    /// The partial block, stored inline (8 × 8 bytes): copying a hasher, as HMAC does for every message,
    /// must not allocate.
    private var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var blockCount = 0
    private var totalBytes: UInt64 = 0

    public init() {}

    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        totalBytes &+= UInt64(bytes.count)
        var offset = 0
        if blockCount > 0 {
            let take = min(64 - blockCount, bytes.count)
            let filled = blockCount
            withUnsafeMutableBytes(of: &block) { $0.baseAddress!.advanced(by: filled).copyMemory(from: base, byteCount: take) }
            blockCount += take
            offset = take
            if blockCount == 64 {
                compressBlock()
                blockCount = 0
            }
        }
        while bytes.count - offset >= 64 {
            compress(base + offset)
            offset += 64
        }
        if offset < bytes.count {
            let rest = bytes.count - offset
            withUnsafeMutableBytes(of: &block) { $0.baseAddress!.copyMemory(from: base + offset, byteCount: rest) }
            blockCount = rest
        }
    }

    public consuming func finalize() -> [UInt8] {
        let bitLength = totalBytes &* 8
        // FIPS 180-4 §5.1.1: 0x80, zeros to 56 mod 64, then the length in bits, big-endian.
        let filled = blockCount
        withUnsafeMutableBytes(of: &block) { raw in
            raw[filled] = 0x80
            for index in (filled + 1)..<64 { raw[index] = 0 }
        }
        if blockCount >= 56 {
            compressBlock()
            block = (0, 0, 0, 0, 0, 0, 0, 0)
        }
        block.7 = bitLength.bigEndian
        compressBlock()
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        return [UInt8](unsafeUninitializedCapacity: 32) { digest, count in
            for (index, word) in words.enumerated() {
                digest[index * 4] = UInt8(truncatingIfNeeded: word >> 24)
                digest[index * 4 + 1] = UInt8(truncatingIfNeeded: word >> 16)
                digest[index * 4 + 2] = UInt8(truncatingIfNeeded: word >> 8)
                digest[index * 4 + 3] = UInt8(truncatingIfNeeded: word)
            }
            count = 32
        }
    }

    private mutating func compressBlock() {
        var copy = block
        withUnsafeBytes(of: &copy) { compress($0.baseAddress!) }
    }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private mutating func compress(_ chunk: UnsafeRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for index in 0..<16 {
                w[index] = UInt32(bigEndian: chunk.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            }
            for index in 16..<64 {
                let s0 = w[index - 15].rotatedRight(7) ^ w[index - 15].rotatedRight(18) ^ (w[index - 15] &>> 3)
                let s1 = w[index - 2].rotatedRight(17) ^ w[index - 2].rotatedRight(19) ^ (w[index - 2] &>> 10)
                w[index] = w[index - 16] &+ s0 &+ w[index - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = state
            Self.k.withUnsafeBufferPointer { k in
                // Eight rounds per iteration with the working variables' roles rotated in the arguments, instead
                // of shifting eight values every round: the shuffling was a third of the instructions.
                var index = 0
                while index < 64 {
                    Self.round(a, b, c, &d, e, f, g, &h, k[index] &+ w[index])
                    Self.round(h, a, b, &c, d, e, f, &g, k[index + 1] &+ w[index + 1])
                    Self.round(g, h, a, &b, c, d, e, &f, k[index + 2] &+ w[index + 2])
                    Self.round(f, g, h, &a, b, c, d, &e, k[index + 3] &+ w[index + 3])
                    Self.round(e, f, g, &h, a, b, c, &d, k[index + 4] &+ w[index + 4])
                    Self.round(d, e, f, &g, h, a, b, &c, k[index + 5] &+ w[index + 5])
                    Self.round(c, d, e, &f, g, h, a, &b, k[index + 6] &+ w[index + 6])
                    Self.round(b, c, d, &e, f, g, h, &a, k[index + 7] &+ w[index + 7])
                    index += 8
                }
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                     state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
        }
    }
}

extension SHA256 {
    /// One round (FIPS 180-4 §6.2.2 step 3) where the caller names the variables by role: afterwards `d`
    /// holds the new e and `h` the new a, and the caller shifts the roles for the next round.
    @inline(__always)
    fileprivate static func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
                                  _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32)
    {
        let s1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
        let choice = (e & f) ^ (~e & g)
        let t1 = h &+ s1 &+ choice &+ kw
        let s0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
        let majority = (a & b) ^ (a & c) ^ (b & c)
        d = d &+ t1
        h = t1 &+ s0 &+ majority
    }
}

extension UInt32 {
    /// Masking shifts (`&>>`, `&<<`): Swift's `>>` also handles over-long shifts, which costs compares on
    /// every use and hid the rotate from the optimizer (4,400 instructions a block before, fewer than half after).
    @inline(__always) fileprivate func rotatedRight(_ count: UInt32) -> UInt32 {
        (self &>> count) | (self &<< (32 &- count))
    }
}
