/// Comparisons whose time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True if `a` and `b` are equal. The time depends only on the lengths (public for MACs and digests).
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
