/// PostgreSQL array literals for text parameters (`$1::text[]`), so a batch of values is one bound parameter.
enum PostgresArray {
    /// `{"a","b\"c"}`: every element quoted, with `"` and `\` escaped, so no value is read as a delimiter, NULL
    /// or a nested array whatever it contains.
    static func text(_ values: [String]) -> String {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            literal += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { literal += "\\" }
                literal.unicodeScalars.append(character)
            }
            literal += "\""
        }
        return literal + "}"
    }
}
