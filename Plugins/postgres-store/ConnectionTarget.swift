import CPostgres
import Glibc
import PluginProtocol

/// The deployer's `url`: any libpq connection string or URI (`postgresql://user@host/db?sslmode=verify-full`,
/// `host=/run/postgresql dbname=gatehouse`), checked once by libpq's own parser.
///
/// The password, if the URL carries one, must never reach a log line or an error message: every message
/// that came from libpq goes through `scrub` first.
struct ConnectionTarget: Sendable {
    let conninfo: String
    /// Strings that must not appear in any message: the password, raw and as it is written in the URL.
    private let secrets: [String]

    init(url: String) throws(RPCError) {
        conninfo = url
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            // libpq's parse errors quote the text they could not read, which may be the password: keep only
            // its words outside quotes.
            let message = error.map { Self.unquoted(String(cString: $0)) } ?? "out of memory"
            PQfreemem(error)
            throw RPCError(.invalidParams, "config.url is not a libpq connection string or URI: \(message)")
        }
        defer { PQconninfoFree(options) }
        var secrets: [String] = []
        var index = 0
        while let keyword = options[index].keyword {
            if String(cString: keyword) == "password", let value = options[index].val {
                let password = String(cString: value)
                if !password.isEmpty { secrets.append(password) }
            }
            index += 1
        }
        // In a URI the password may be percent-encoded: hide the encoded form too.
        if let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") {
            let userInfo = url[scheme.upperBound..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                let written = String(userInfo[userInfo.index(after: colon)...])
                if !written.isEmpty { secrets.append(written) }
            }
        }
        self.secrets = secrets.sorted { $0.count > $1.count }
    }

    /// `message` with every occurrence of the password replaced.
    func scrub(_ message: String) -> String {
        var text = message
        for secret in secrets { text = text.replacing(secret, with: "[password]") }
        return text
    }

    /// Replaces each "quoted" part of a libpq message with "…".
    static func unquoted(_ message: String) -> String {
        var result = ""
        var inQuotes = false
        for character in message {
            if character == "\"" {
                if !inQuotes { result += "\"…\"" }
                inQuotes.toggle()
            } else if !inQuotes {
                result.append(character)
            }
        }
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
