import Glibc

/// The address a request came from, seen through the reverse proxies Gatehouse trusts. One rule for every
/// place that needs it: the token endpoints' failure limits, their audit lines, and forward auth.
///
/// A proxy appends the address it received the request from to `X-Forwarded-For` (or adds a `for=` element to
/// RFC 7239 `Forwarded`); anything to the left of that came from the client and may be forged. So the chain is
/// read from the right, skipping hops that are themselves trusted proxies, and the first untrusted address is
/// the client. Headers are only read when the socket peer is a trusted proxy; from anyone else the peer is the
/// answer, whatever the headers say.
enum ClientAddress {
    /// Hops examined at most: a longer chain is a forgery or a loop, and its left end is no better than where
    /// the walk stops.
    static let maxHops = 32

    static func resolve(peer: String, headers: HTTPHeaders, trustedProxies: [IPNetwork]) -> String {
        guard isTrusted(peer, trustedProxies) else { return peer }
        // X-Forwarded-For is what nginx, HAProxy, Traefik, Caddy and Envoy set; Forwarded only when it is absent.
        // Several header lines form one list, in order (RFC 9110 §5.3).
        var chain = headers.values("x-forwarded-for").flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }
        if chain.isEmpty { chain = headers.values("forwarded").flatMap(forwardedFor) }
        var hop = peer
        for entry in chain.reversed().prefix(maxHops) {
            // An entry that is not an address ("unknown", an obfuscated name) ends the walk: the proxy that wrote
            // it is the last hop known for sure.
            guard let address = canonical(entry) else { return hop }
            if !isTrusted(address, trustedProxies) { return address }
            hop = address
        }
        return hop
    }

    private static func isTrusted(_ address: String, _ trustedProxies: [IPNetwork]) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// The `for=` values of a `Forwarded` header (RFC 7239 §4): `for=192.0.2.60;proto=http, for="[2001:db8::17]:47"`.
    private static func forwardedFor(_ header: String) -> [Substring] {
        header.split(separator: ",").compactMap { element in
            for pair in element.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingOWS().lowercased() == "for" else { continue }
                var value = parts[1].trimmingOWS()
                if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = value.dropFirst().dropLast() }
                return value
            }
            return nil
        }
    }

    /// The numeric address in `text` (`1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`), written
    /// the one way `inet_ntop` writes it, IPv4-mapped IPv6 as IPv4; nil if it is not an address.
    static func canonical(_ text: some StringProtocol) -> String? {
        var text = String(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            text = String(text[text.index(after: text.startIndex)..<close])
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = String(text[..<colon])  // IPv4 with a port.
        }
        guard var bytes = IPNetwork.parse(text) else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard written != nil else { return nil }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
