import Glibc

/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`, `::1/128`, or a bare address for a single host).
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    private let prefix: [UInt8]
    private let length: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let address = Self.parse(first) else { return nil }
        let maxLength = address.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : maxLength
        guard let length, (0...maxLength).contains(length) else { return nil }
        self.prefix = address
        self.length = length
        self.description = text
    }

    public func contains(_ addressText: String) -> Bool {
        guard var address = Self.parse(addressText) else { return false }
        // An IPv4 peer on a dual-stack socket appears as ::ffff:a.b.c.d.
        if address.count == 16, prefix.count == 4, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            address = Array(address[12...])
        }
        guard address.count == prefix.count else { return false }
        for bit in 0..<length {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if address[bit / 8] & mask != prefix[bit / 8] & mask { return false }
        }
        return true
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
