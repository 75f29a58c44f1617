/// Looks for a parameter name in a raw query string without decoding values (they may be secrets).
enum FormURLEncodingQuery {
    static func contains(_ query: Substring, _ name: String) -> Bool {
        query.split(separator: "&").contains { piece in
            let key = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return (try? FormURLEncoding.decodeComponent(key.utf8)) == name
        }
    }
}
