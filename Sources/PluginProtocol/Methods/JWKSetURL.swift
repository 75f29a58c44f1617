/// The rule for a client's `jwksUri` (OIDC Dynamic Client Registration §2 `jwks_uri`): where the host fetches
/// the client's public keys. Stores apply it before they write the field and the host checks every answer
/// against it (`AnswerRules`), so the host never fetches from a URL that breaks it.
///
/// An absolute `https` URL; plain `http` only to a loopback host (127.0.0.0/8, `::1`, `localhost`), where no
/// network sits between the host and the server. No userinfo (a password in a URL lands in logs and process
/// lists), no fragment (RFC 3986 §3.5: never sent, so it can only mislead), printable ASCII only, bounded.
public enum JWKSetURL {
    public static let maxLength = 1024

    /// Why `url` may not be a client's `jwksUri`, worded for the operator, or nil.
    public static func violation(_ url: String) -> String? {
        let bytes = Array(url.utf8)
        guard (1...maxLength).contains(bytes.count) else { return "jwks uri must be 1-\(maxLength) characters" }
        // RFC 3986 §2: no spaces, controls, non-ASCII, or the characters URIs never contain unescaped.
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) && !Array(#""<>\^`{|}"#.utf8).contains($0) }) else {
            return "jwks uri must be printable ASCII without spaces (percent-encode anything else)"
        }
        guard let parts = split(url) else { return "jwks uri must be an absolute http(s) URL with a host, like https://keys.example.com/jwks.json" }
        guard !parts.authority.contains("@") else { return "jwks uri must not carry a user name or password" }
        guard !url.contains("#") else { return "jwks uri must not have a fragment (#...)" }
        guard let host = host(parts.authority) else { return "jwks uri has an invalid host or port" }
        if parts.scheme == "http" && !isLoopback(host) {
            return "jwks uri must use https (http only for a loopback host: 127.0.0.1, ::1, localhost)"
        }
        return nil
    }

    /// True when `url` passes `violation` and names a loopback host.
    public static func isLoopback(url: String) -> Bool {
        guard violation(url) == nil, let parts = split(url), let host = host(parts.authority) else { return false }
        return isLoopback(host)
    }

    /// Scheme (lowercased, `http` or `https`) and authority, or nil.
    private static func split(_ url: String) -> (scheme: String, authority: Substring)? {
        guard let colon = url.firstIndex(of: ":") else { return nil }
        let scheme = url[..<colon].lowercased()
        let afterColon = url[url.index(after: colon)...]
        guard scheme == "https" || scheme == "http", afterColon.hasPrefix("//") else { return nil }
        let rest = afterColon.dropFirst(2)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty else { return nil }
        return (scheme, authority)
    }

    /// The host of `authority` (lowercased; an IPv6 literal without brackets), checking the port, or nil.
    private static func host(_ authority: Substring) -> String? {
        var host: Substring
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                port = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            let pieces = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { return nil }
            host = pieces[0]
            port = pieces.count == 2 ? pieces[1] : nil
            // RFC 3986 §3.2.2 reg-name, kept to what DNS names and IPv4 addresses use.
            guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }) else { return nil }
        }
        if let port {
            guard (1...5).contains(port.count), port.allSatisfy(\.isNumber), let number = Int(port), (1...65_535).contains(number) else { return nil }
        }
        return host.lowercased()
    }

    private static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isNumber) }) else { return false }
        return octets.compactMap { Int($0) }.allSatisfy { $0 <= 255 } && octets[0] == "127"
    }
}
