/// The members of a JSON object: unique keys, kept in the order they were parsed or added.
///
/// A list searched front to back while small, which is what JSON-RPC messages and client records are: building
/// and reading a dictionary hashed every key, and hashing was the largest single cost of decoding a plugin's
/// answer. Past `indexedCount` members a dictionary of positions is kept as well, so a large object (a config, a
/// key set, a page of clients) still costs one hash per lookup, never a scan. Equality and hashing ignore order,
/// as for a dictionary: key order carries no meaning in JSON.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSONValue)

    /// From this many members on, lookups go through `positions`.
    public static let indexedCount = 12

    private var members: [Element] = []
    private var positions: [String: Int]?

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(members: elements)
    }

    /// Members in the order given; a repeated key takes the place of its first and the value of its last.
    public init(members elements: [(String, JSONValue)]) {
        members.reserveCapacity(elements.count)
        for (key, value) in elements { self[key] = value }
    }

    /// The dictionary's members, ordered by key (a dictionary's own order is arbitrary).
    public init(_ dictionary: [String: JSONValue]) {
        members.reserveCapacity(dictionary.count)
        for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) { append(key, value) }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }
    public var dictionary: [String: JSONValue] { Dictionary(uniqueKeysWithValues: members.map { ($0.key, $0.value) }) }

    public func makeIterator() -> IndexingIterator<[Element]> { members.makeIterator() }

    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            switch (position(of: key), newValue) {
            case (let found?, let value?): members[found].value = value
            case (nil, let value?): append(key, value)
            case (let found?, nil): removeMember(at: found)
            case (nil, nil): break
            }
        }
    }

    /// Adds a member whose key is not there yet; false, and no change, if it is (the parser refuses duplicates).
    public mutating func insertNew(_ key: String, _ value: JSONValue) -> Bool {
        guard position(of: key) == nil else { return false }
        append(key, value)
        return true
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let found = position(of: key) else { return nil }
        let value = members[found].value
        removeMember(at: found)
        return value
    }

    /// Adds `other`'s members; where a key is in both, `other`'s value wins.
    public mutating func merge(_ other: [String: JSONValue]) {
        for (key, value) in other.sorted(by: { $0.key < $1.key }) { self[key] = value }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy { rhs[$0.key] == $0.value }
    }

    /// Order-independent, like `Dictionary`'s: each member hashed on its own, the results combined by addition.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for member in members {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            combined &+= memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return members.firstIndex { $0.key == key }
    }

    private mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
        if positions != nil {
            positions?[key] = members.count - 1
        } else if members.count >= Self.indexedCount {
            positions = Dictionary(uniqueKeysWithValues: members.indices.map { (members[$0].key, $0) })
        }
    }

    private mutating func removeMember(at index: Int) {
        members.remove(at: index)
        if positions != nil {
            positions = Dictionary(uniqueKeysWithValues: members.indices.map { (members[$0].key, $0) })
        }
    }
}
