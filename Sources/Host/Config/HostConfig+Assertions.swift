import JSON

/// `client_assertions` (Docs/configuration.md): how long a client's signed assertion may live and how much
/// clock skew is tolerated (RFC 7523 §3 items 4-6).
extension HostConfig {
    mutating func applyAssertions(_ reader: ConfigReader) throws(JSONShapeError) {
        // Up to a day; an assertion is a short-lived proof and its jti is remembered until it expires.
        assertionMaxLifetime = try reader.optionalInt("max_lifetime_seconds", in: 1...86_400) ?? assertionMaxLifetime
        assertionClockSkew = try reader.optionalInt("clock_skew_seconds", in: 0...300) ?? assertionClockSkew
    }

    /// The `aud` values that name this server: the issuer (with or without a final slash) and the URLs of
    /// the endpoints that take client assertions. OIDC Core §9 names the token endpoint; RFC 7523 §3 item 3
    /// allows any value that identifies the authorization server.
    var assertionSettings: AssertionVerifier.Settings {
        let issuer = effectiveIssuer
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let audiences: Set<String> = [issuer, base, base + "/", base + Router.tokenPath, base + Router.revokePath,
                                      base + Router.introspectPath]
        return AssertionVerifier.Settings(audiences: audiences, maxLifetime: assertionMaxLifetime, clockSkew: assertionClockSkew)
    }
}
