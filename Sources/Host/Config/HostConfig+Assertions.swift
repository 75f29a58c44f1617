import JSON

/// `client_assertions` (Docs/configuration.md): how long a client's signed assertion may live and how much
/// clock skew is tolerated (RFC 7523 §3 items 4-6).
extension HostConfig {
    mutating func applyAssertions(_ reader: ConfigReader) throws(JSONShapeError) {
        // Up to a day; an assertion is a short-lived proof and its jti is remembered until it expires.
        assertionMaxLifetime = try reader.optionalInt("max_lifetime_seconds", in: 1...86_400) ?? assertionMaxLifetime
        assertionClockSkew = try reader.optionalInt("clock_skew_seconds", in: 0...300) ?? assertionClockSkew
        // Keys at a jwksUri: the floor under a server's max-age, and how often an unknown kid may refetch.
        jwksMinCache = try reader.optionalInt("jwks_min_cache_seconds", in: 1...86_400) ?? jwksMinCache
        jwksRefreshInterval = try reader.optionalInt("jwks_refresh_interval_seconds", in: 1...3600) ?? jwksRefreshInterval
    }

    /// `JWKSetCache`'s bounds: max-age clamped to [jwks_min_cache_seconds, 24 h], 5 min (or the floor, if
    /// higher) without one.
    var jwksCacheSettings: JWKSetCache.Settings {
        var settings = JWKSetCache.Settings()
        settings.minFreshness = .seconds(jwksMinCache)
        settings.defaultFreshness = .seconds(max(300, jwksMinCache))
        settings.refreshInterval = .seconds(jwksRefreshInterval)
        return settings
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
