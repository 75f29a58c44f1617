/// The parameters of an OAuth request body, each name at most once (RFC 6749 §3.2), in arrival order.
///
/// A short list, not a dictionary: a request has a handful of parameters, and hashing every name cost more
/// than finding it. The count is bounded (`maxCount`), so a body of thousands of parameters is refused before
/// they are decoded, and the duplicate check stays cheap.
struct OAuthParameters: Sendable {
    /// Far above what any client sends (a token request has two to six).
    static let maxCount = 32

    private let pairs: [(name: String, value: String)]

    /// Fails with the name of the first parameter that appears twice.
    init(_ pairs: [(name: String, value: String)]) throws(Duplicate) {
        for index in pairs.indices where pairs[..<index].contains(where: { $0.name == pairs[index].name }) {
            throw Duplicate(name: pairs[index].name)
        }
        self.pairs = pairs
    }

    struct Duplicate: Error {
        let name: String
    }

    subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }
}
