/// Byte-level comparisons for protocol elements that are ASCII by definition (schemes, media types, field
/// values that are tokens). `String.lowercased()` and `Character` searches are Unicode-aware and cost
/// thousands of instructions on every request; these cost a loop.
extension Sequence<UInt8> {
    /// True if these bytes equal `lowercase` ignoring ASCII case; `lowercase` must be lowercase ASCII.
    func equalsIgnoringASCIICase(_ lowercase: String) -> Bool {
        elementsEqual(lowercase.utf8) { byte, expected in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == expected
        }
    }
}

extension Substring.UTF8View {
    /// Without optional whitespace (RFC 9110 §5.6.3: spaces and horizontal tabs) at either end.
    func trimmingOWS() -> Substring.UTF8View {
        var view = self
        while let first = view.first, first == 0x20 || first == 0x09 { view = view.dropFirst() }
        while let last = view.last, last == 0x20 || last == 0x09 { view = view.dropLast() }
        return view
    }
}
