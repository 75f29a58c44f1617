/// A small, strict command-line parser: `--name value`, `--name=value`, boolean `--flag`, and positionals.
///
/// Strict because a typo in an operator's command must not be silently ignored: unknown options, missing
/// values and stray positionals are errors that name the problem.
public struct CommandLineArguments {
    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    private var options: [String: String] = [:]
    private var flags: Set<String> = []
    public private(set) var positionals: [String] = []

    /// - Parameters:
    ///   - valueOptions: options that take a value (`config` for `--config PATH`).
    ///   - flagOptions: options that take none (`json` for `--json`).
    public init(_ arguments: [String], valueOptions: Set<String>, flagOptions: Set<String>) throws(ParseError) {
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositionals || !argument.hasPrefix("--") || argument == "-" {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositionals = true
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            // `--scope a --scope b` would keep one of them silently: refuse it.
            if options[name] != nil || flags.contains(name) {
                throw ParseError(description: "--\(name) given more than once")
            }
            if valueOptions.contains(name) {
                if let inlineValue {
                    options[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw ParseError(description: "--\(name) needs a value") }
                    options[name] = arguments[index]
                    index += 1
                }
            } else if flagOptions.contains(name) {
                guard inlineValue == nil else { throw ParseError(description: "--\(name) takes no value") }
                flags.insert(name)
            } else {
                throw ParseError(description: "unknown option --\(name)")
            }
        }
    }

    public func value(_ name: String) -> String? { options[name] }

    /// `--help` or `-h` anywhere before `--`: the command prints its usage and exits 0, whatever else is given.
    public static func wantsHelp(_ arguments: [String]) -> Bool {
        for argument in arguments {
            if argument == "--" { return false }
            if argument == "--help" || argument == "-h" { return true }
        }
        return false
    }
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    public func integer(_ name: String, in range: ClosedRange<Int64>) throws(ParseError) -> Int64? {
        guard let text = options[name] else { return nil }
        guard let number = Int64(text), range.contains(number) else {
            throw ParseError(description: "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// Refuses more positionals than the command takes.
    public func expectPositionals(atMost count: Int, usage: String) throws(ParseError) {
        guard positionals.count <= count else {
            throw ParseError(description: "unexpected argument '\(positionals[count])'; usage: \(usage)")
        }
    }
}
