import CryptoPrimitives
import Foundation
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// The key lifecycle as pure steps with a made-up clock: publish before signing, retire after the last
/// token, automatic rotation, algorithm switches, and key files from before asymmetric keys.
@Suite struct SigningKeyLifecycleTests {
    static let day: Int64 = 86_400
    let policy = SigningKeyRing.Policy(algorithm: .es256, maxTokenLifetime: 3_600, rotationPeriod: 30 * day)

    private func states(_ ring: SigningKeyRing) -> [SigningKeyRing.State] {
        ring.keys.map { ring.state(of: $0) }.sorted { $0.rawValue < $1.rawValue }
    }

    @Test func aNewRingHasAnActiveAndAPublishedNextKey() throws {
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        #expect(states(ring) == [.active, .published])
        #expect(ring.keys.allSatisfy { $0.algorithm == .es256 })
        #expect(try ring.advanced(now: 1_001, policy: policy) == nil, "nothing to do: nothing is written")
        // Published with the ring: no JWK Set was ever served without it, so it may take over at once.
        let (rotated, outcome) = try ring.rotated(to: .es256, now: 1_010, policy: policy)
        let next = try #require(ring.keys.first { ring.state(of: $0) == .published })
        #expect(outcome == .switched(to: next.id))
        #expect(rotated.currentID == next.id)
        #expect(states(rotated) == [.active, .published, .retiring])
    }

    @Test func aKeyPublishedLaterWaitsOneMaxAgeBeforeSigning() throws {
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        // Switch algorithm long after the ring was made: the EdDSA key is new to every cached JWK Set.
        let (scheduled, outcome) = try ring.rotated(to: .edDSA, now: 50_000, policy: policy)
        guard case .scheduled(let id, let at) = outcome else { Issue.record("expected a scheduled switch"); return }
        #expect(at == 50_000 + SigningKeyRing.jwksMaxAge)
        #expect(scheduled.currentID == ring.currentID, "the old key keeps signing meanwhile")
        #expect(scheduled.key(id: id)?.algorithm == .edDSA)
        #expect(!scheduled.keys.contains { $0.algorithm == .es256 && scheduled.state(of: $0) == .published },
                "the unwanted ES256 next key never signed and is dropped")
        #expect(try scheduled.advanced(now: at - 1, policy: policy) == nil)
        let switched = try #require(try scheduled.advanced(now: at, policy: policy))
        #expect(switched.currentID == id)
        #expect(switched.state(of: try #require(switched.key(id: ring.currentID))) == .retiring)
        let fresh = try #require(switched.keys.first { switched.state(of: $0) == .published })
        #expect(fresh.algorithm == .edDSA && fresh.createdAt == at, "a new next key is published with the switch")
    }

    @Test func aRetiredKeyStaysUntilItsLastTokenExpired() throws {
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        let old = ring.currentID
        let (rotated, _) = try ring.rotated(to: .es256, now: 2_000, policy: policy)
        #expect(try rotated.advanced(now: 2_000 + 3_600, policy: policy) == nil, "a token signed at 2000 may live until 5600")
        let later = try #require(try rotated.advanced(now: 2_000 + 3_601, policy: policy))
        #expect(later.key(id: old) == nil)
        #expect(states(later) == [.active, .published])
    }

    @Test func rotationIsAutomaticAfterThePeriod() throws {
        let ring = try SigningKeyRing.create(.es256, now: 0)
        #expect(try ring.advanced(now: 30 * Self.day - 1, policy: policy) == nil)
        let rotated = try #require(try ring.advanced(now: 30 * Self.day, policy: policy))
        #expect(rotated.currentID != ring.currentID)
        var off = policy
        off.rotationPeriod = nil
        #expect(try ring.advanced(now: 300 * Self.day, policy: off) == nil)
    }

    @Test func hs256RotatesAtOnceAndPublishesNothing() throws {
        let ring = try SigningKeyRing.create(.hs256, now: 1_000)
        #expect(ring.keys.count == 1 && ring.current.publicJWK() == nil)
        let (rotated, outcome) = try ring.rotated(to: .hs256, now: 90_000, policy: policy)
        #expect(outcome == .switched(to: rotated.currentID))
        #expect(JWKSet.document(rotated, extra: []) == ["keys": []])
    }

    @Test func aKeyFileFromBeforeAsymmetricKeysUpgrades() throws {
        // The format written by earlier versions: HS256 secrets, no alg, no lifecycle times.
        let old = Base64.encode([UInt8](repeating: 7, count: 32), alphabet: .url)
        let current = Base64.encode([UInt8](repeating: 9, count: 32), alphabet: .url)
        let json = try JSONParser.parse(Array("""
            {"current": "b", "keys": [{"kid": "a", "secret": "\(old)", "createdAt": 100},
                                      {"kid": "b", "secret": "\(current)", "createdAt": 200}]}
            """.utf8))
        let ring = try SigningKeyRing(json: json, now: 10_000)
        #expect(ring.currentID == "b" && ring.current.algorithm == .hs256)
        #expect(ring.key(id: "a")?.retiredAt == 200)
        #expect(ring.createdAt == 10_000)
        // The configured RS256 takes over at once: no JWK Set was served by the version that wrote the file.
        let rs = SigningKeyRing.Policy(algorithm: .rs256, maxTokenLifetime: 3_600, rotationPeriod: nil)
        let (upgraded, outcome) = try ring.rotated(to: .rs256, now: 10_000, policy: rs)
        guard case .switched = outcome else { Issue.record("expected an immediate switch"); return }
        #expect(upgraded.current.algorithm == .rs256)
        #expect(upgraded.state(of: try #require(upgraded.key(id: "b"))) == .retiring, "HS256 tokens keep verifying until they expire")
    }

    @Test func theKeyFileRoundTripsWithoutPrivateKeysInTheJWKSet() throws {
        let directory = TemporaryDirectory()
        let ring = try SigningKeyRing.create(.rs256, now: 5)
        try ring.save(to: SigningKeyRing.path(in: directory.path))
        let loaded = try SigningKeyRing.loadOrCreate(directory: directory.path, now: 99)
        #expect(loaded.keys.map(\.id) == ring.keys.map(\.id))
        #expect(loaded.createdAt == 5 && loaded.currentID == ring.currentID)
        let document = JWKSet.document(loaded, extra: [])
        let entries = try #require(document["keys"]?.arrayValue)
        #expect(entries.count == 2)
        for entry in entries {
            let members = Set(try #require(entry.objectValue).keys)
            #expect(members == ["kty", "kid", "use", "alg", "n", "e"])
            #expect(entry["use"] == "sig" && entry["alg"] == "RS256")
        }
    }
}
