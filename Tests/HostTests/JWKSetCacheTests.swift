import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `JWKSetCache` (when to fetch a client's JWK Set again), `JWKSetDocument` (which keys of a set count) and
/// the Cache-Control reading, without sockets: a simulated clock and byte strings.
@Suite struct JWKSetCacheTests {
    static let url = "https://keys.example.com/jwks.json"
    static func key(_ kid: String) -> PublicKeyInfo { PublicKeyInfo(keyID: kid, algorithm: "EdDSA", jwk: ["kty": "OKP"]) }
    static func at(_ seconds: Double) -> MonotonicTime { MonotonicTime(nanoseconds: UInt64(1_000_000_000 + seconds * 1e9)) }

    @Test func aSetIsFetchedOnceAndServedWhileFresh() {
        var cache = JWKSetCache()
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(0)) == .fetch)
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(0.1)) == .wait, "one fetch at a time")
        #expect(cache.fetched(Self.url, keys: [Self.key("a")], maxAge: .seconds(120), now: Self.at(0.5)) == [Self.key("a")])
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(100)) == .use([Self.key("a")]))
        #expect(cache.lookup(Self.url, keyID: nil, now: Self.at(100)) == .use([Self.key("a")]))
        // Expired: a lookup waits for the refresh.
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(121)) == .fetch)
    }

    @Test func maxAgeIsClampedAndDefaulted() {
        for (maxAge, fresh, stale) in [(Duration?.none, 299.0, 301.0), (.seconds(5), 59, 61), (.zero, 59, 61),
                                       (.seconds(10_000_000), 86_399, 86_401)] as [(Duration?, Double, Double)]
        {
            var cache = JWKSetCache()
            _ = cache.lookup(Self.url, keyID: "a", now: Self.at(0))
            _ = cache.fetched(Self.url, keys: [Self.key("a")], maxAge: maxAge, now: Self.at(0))
            #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(fresh)) == .use([Self.key("a")]), "\(String(describing: maxAge))")
            var later = cache
            #expect(later.lookup(Self.url, keyID: "a", now: Self.at(stale)) == .fetch, "\(String(describing: maxAge))")
        }
    }

    @Test func anUnknownKidRefetchesAtMostOncePerInterval() {
        var cache = JWKSetCache()
        _ = cache.lookup(Self.url, keyID: "a", now: Self.at(0))
        _ = cache.fetched(Self.url, keys: [Self.key("a")], maxAge: .seconds(3600), now: Self.at(0))
        // Within the interval of the last fetch, an unknown kid gets the set there is (and fails).
        #expect(cache.lookup(Self.url, keyID: "b", now: Self.at(5)) == .use([Self.key("a")]))
        #expect(cache.lookup(Self.url, keyID: "b", now: Self.at(10)) == .fetch)
        #expect(cache.lookup(Self.url, keyID: "c", now: Self.at(10.5)) == .wait)
        _ = cache.fetched(Self.url, keys: [Self.key("a"), Self.key("b")], maxAge: .seconds(3600), now: Self.at(11))
        var fetches = 0
        for step in 0..<1000 {
            if cache.lookup(Self.url, keyID: "random-\(step)", now: Self.at(11 + Double(step) * 0.05)) == .fetch {
                fetches += 1
                _ = cache.fetched(Self.url, keys: [Self.key("a"), Self.key("b")], maxAge: .seconds(3600), now: Self.at(11 + Double(step) * 0.05))
            }
        }
        #expect(fetches == 5, "50 s of random kids: one fetch per 10 s (got \(fetches))")
        #expect(cache.lookup(Self.url, keyID: "b", now: Self.at(70)) == .use([Self.key("a"), Self.key("b")]))
    }

    @Test func aFailedFetchKeepsTheLastGoodSetForADayAndRetriesAtTheInterval() {
        var cache = JWKSetCache()
        _ = cache.lookup(Self.url, keyID: "a", now: Self.at(0))
        _ = cache.fetched(Self.url, keys: [Self.key("a")], maxAge: .seconds(60), now: Self.at(0))
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(61)) == .fetch)
        #expect(cache.fetched(Self.url, keys: nil, maxAge: nil, now: Self.at(64)) == [Self.key("a")], "the waiters get the last good set")
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(65)) == .use([Self.key("a")]), "no new fetch within the interval")
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(71)) == .fetch)
        _ = cache.fetched(Self.url, keys: nil, maxAge: nil, now: Self.at(72))
        #expect(cache.lookup(Self.url, keyID: "a", now: Self.at(86_401)) == .fetch)
        #expect(cache.fetched(Self.url, keys: nil, maxAge: nil, now: Self.at(86_402)) == nil, "a day old: no longer used")
        // A URL that never answered gives nothing, and is retried at the interval too.
        #expect(cache.lookup("https://down.example/", keyID: "a", now: Self.at(0)) == .fetch)
        #expect(cache.fetched("https://down.example/", keys: nil, maxAge: nil, now: Self.at(3)) == nil)
        #expect(cache.lookup("https://down.example/", keyID: "a", now: Self.at(4)) == .use(nil))
        #expect(cache.lookup("https://down.example/", keyID: "a", now: Self.at(10)) == .fetch)
    }

    @Test func theCacheIsBounded() {
        var settings = JWKSetCache.Settings()
        settings.maxEntries = 100
        var cache = JWKSetCache(settings: settings)
        for index in 0..<1000 {
            let url = "https://k\(index).example/"
            _ = cache.lookup(url, keyID: nil, now: Self.at(0))
            _ = cache.fetched(url, keys: [], maxAge: nil, now: Self.at(0))
            #expect(cache.count <= 100)
        }
    }

    @Test func usableKeysAreKeptAndTheRestSkippedOrRefused() throws {
        let ed = try AsymmetricKey.generate(.edDSA).publicJWK()
        let ec = try AsymmetricKey.generate(.es256).publicJWK()
        let rsa = try AsymmetricKey.generate(.rs256).publicJWK()
        func object(_ jwk: [String: String], _ extra: [String: JSONValue] = [:]) -> JSONValue {
            .object(jwk.mapValues { JSONValue.string($0) }.merging(extra) { $1 })
        }
        let set: JSONValue = ["keys": [
            object(ed, ["kid": "ed", "use": "sig"]), object(ec, ["kid": "ec", "alg": "ES256"]), object(rsa, ["kid": "rsa"]),
            object(ed), // no kid: kept under a stand-in id
            object(rsa, ["kid": "enc", "use": "enc"]), object(rsa, ["kid": "ops", "key_ops": ["encrypt"]]),
            object(rsa, ["kid": "wrong-alg", "alg": "ES256"]), object(rsa, ["kid": "hmac", "alg": "HS256"]),
            object(["kty": "RSA", "n": "AQAB", "e": "AQAB"], ["kid": "too-small"]), object(["kty": "oct"], ["kid": "oct"]),
            object(["kty": "EC", "crv": "P-384", "x": ec["x"] ?? "", "y": ec["y"] ?? ""], ["kid": "p384"]), "not an object",
        ]]
        let keys = try JWKSetDocument.keys(JSONWriter.bytes(set)).get()
        #expect(keys.map(\.keyID) == ["ed", "ec", "rsa", "\u{0}3"])
        #expect(keys.map(\.algorithm) == ["EdDSA", "ES256", "RS256", "EdDSA"])
        #expect(keys.allSatisfy { Set($0.jwk.keys).isSubset(of: PublicKeyInfo.publicMembers) })

        // A private member anywhere refuses the whole set: that key has leaked.
        var leaked = ed
        leaked["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
        #expect(throws: JWKSetDocument.Refused.self) { try JWKSetDocument.keys(JSONWriter.bytes(["keys": [object(ec), object(leaked)]])).get() }
        #expect(throws: JWKSetDocument.Refused.self) { try JWKSetDocument.keys(JSONWriter.bytes(["keys": [object(["kty": "oct", "k": "c2VjcmV0"])]])).get() }
        for garbage in ["", "[]", "{}", #"{"keys": {}}"#, "\u{0}\u{ff}", #"{"keys": [}"#] {
            #expect(throws: JWKSetDocument.Refused.self, "\(garbage)") { try JWKSetDocument.keys(Array(garbage.utf8)).get() }
        }
        // At most as many keys as a client may register.
        let many: JSONValue = ["keys": .array((0..<50).map { object(ed, ["kid": .string("k\($0)")]) })]
        #expect(try JWKSetDocument.keys(JSONWriter.bytes(many)).get().count == ClientKeys.maxKeysPerClient)
    }

    @Test func cacheControlMaxAge() {
        #expect(JWKSetDownloader.maxAge(nil) == nil)
        #expect(JWKSetDownloader.maxAge("public, max-age=600") == .seconds(600))
        #expect(JWKSetDownloader.maxAge("Max-Age=\"30\", must-revalidate") == .seconds(30))
        #expect(JWKSetDownloader.maxAge("no-store") == .zero && JWKSetDownloader.maxAge("no-cache, max-age=60") == .zero)
        #expect(JWKSetDownloader.maxAge("max-age=-5") == nil && JWKSetDownloader.maxAge("max-age=soon") == nil)
    }
}
