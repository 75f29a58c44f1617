/// A parsed HTTP/1.x request: head and complete body (bodies here are small forms, capped by config).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent (`/api/v1/metrics?x=1`).
    public var target: String
    /// The path part of the target, still percent-encoded.
    public var path: Substring { target[..<(queryMark ?? target.endIndex)] }
    /// The query part without `?`, nil when the target has none.
    public var query: Substring? {
        guard let mark = queryMark else { return nil }
        return target[target.index(after: mark)...]
    }
    /// A byte search: `?` is ASCII, and searching by `Character` costs several times more on every request.
    private var queryMark: String.Index? { target.utf8.firstIndex(of: UInt8(ascii: "?")) }
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// RFC 9112 §9.3: 1.1 keeps the connection open unless `close`; 1.0 closes unless `keep-alive`.
    public var keepAlive: Bool {
        let tokens = headers.values("connection").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingOWS().lowercased() }
        switch version {
        case .http11: return !tokens.contains("close")
        case .http10: return tokens.contains("keep-alive")
        }
    }

    public init(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }
}

public enum HTTPVersion: Sendable, Equatable {
    case http10
    case http11

    var text: String { self == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
}

/// Header fields in arrival order; names are stored lowercased (field names are case-insensitive,
/// RFC 9110 §5.1), so lookups are plain comparisons.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        for (name, value) in fields { append(name, value) }
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append((name.lowercased(), value))
    }

    mutating func reserveCapacity(_ count: Int) { fields.reserveCapacity(count) }

    /// `append` for a name the caller has already lowercased (the parser, which knows names are ASCII).
    mutating func appendLowercased(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    public func values(_ name: String) -> [String] {
        fields.compactMap { $0.name == name ? $0.value : nil }
    }

    public func count(_ name: String) -> Int { fields.reduce(0) { $0 + ($1.name == name ? 1 : 0) } }

    public func makeIterator() -> some IteratorProtocol<(name: String, value: String)> { fields.makeIterator() }
}

extension StringProtocol {
    /// Without optional whitespace (OWS, RFC 9110 §5.6.3: spaces and horizontal tabs) at either end.
    func trimmingOWS() -> Substring {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return Substring(slice)
    }
}
