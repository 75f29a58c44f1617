
/// The text of every `error_description` Gatehouse sends, in a JSON body or a `WWW-Authenticate` challenge.
///
/// RFC 6749 §5.2 (and RFC 6750 §3 for bearer challenges): "Values for the error_description parameter MUST NOT
/// include characters outside the set %x20-21 / %x23-5B / %x5D-7E": printable ASCII without `"` and `\`. Texts
/// are written by us, but some carry a plugin's words (a policy's reason) or a piece of the request (a parameter's
/// name), so every description goes through `sanitized` on its way out, and request input is put in with
/// `quoting` only.
enum ErrorDescription {
    /// Longest piece of request input quoted in a description, in bytes before escaping.
    static let maxQuotedBytes = 64
    /// Longest description sent: a plugin's reason is for people, not a channel for bulk text.
    static let maxBytes = 400

    static func isAllowed(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x21 || (0x23...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
    }

    static func isValid(_ text: String) -> Bool { text.utf8.allSatisfy(isAllowed) }

    /// `text` with every byte outside the set percent-encoded (`§` becomes `%C2%A7`, `"` becomes `%22`), cut to
    /// `maxBytes`. Allowed text passes unchanged and without copying work beyond the check.
    static func sanitized(_ text: String) -> String {
        if text.utf8.count <= maxBytes && isValid(text) { return text }
        return escaping(text.utf8.prefix(maxBytes)) { !isAllowed($0) }
    }

    /// Request input (a parameter's name) for a description: at most `maxQuotedBytes` bytes, with `%` and `'`
    /// escaped as well, so the quoted piece can neither end the quotes it is put in nor pass for an escape.
    static func quoting(_ input: some StringProtocol) -> String {
        "'" + escaping(input.utf8.prefix(maxQuotedBytes)) { !isAllowed($0) || $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "'") }
            + (input.utf8.count > maxQuotedBytes ? "...'" : "'")
    }

    private static func escaping(_ bytes: some Collection<UInt8>, where escape: (UInt8) -> Bool) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        for byte in bytes {
            if escape(byte) {
                out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
