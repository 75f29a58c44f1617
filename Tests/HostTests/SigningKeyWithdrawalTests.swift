import Foundation
import JOSE
import PluginProtocol
import StoreKit
import Testing
@testable import Host

/// `gatehouse keys withdraw` as pure steps on a ring (SigningKeyRing+Withdrawal.swift): the key and every
/// token it signed are gone at once, signing moves on, the store is told, and the only key that can sign is
/// withdrawn only with --force.
@Suite struct SigningKeyWithdrawalTests {
    static let issuer = "http://gatehouse.test"
    let policy = SigningKeyRing.Policy(algorithm: .es256, maxTokenLifetime: 3_600, rotationPeriod: nil)

    private func claims(_ now: Int64) -> AccessToken {
        AccessToken(issuer: Self.issuer, clientID: "c", audience: "gatehouse", issuedAt: now, expiresAt: now + 600, tokenID: "t",
                    scopes: ["metrics"])
    }

    private func codec(_ ring: SigningKeyRing) -> TokenCodec { TokenCodec(keys: ring, issuer: Self.issuer, audience: "gatehouse") }

    @Test func withdrawingTheActiveKeyVoidsItsTokensAndTheNextKeySigns() throws {
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        let compromised = ring.currentID
        let next = try #require(ring.keys.first { ring.state(of: $0) == .published })
        let token = try codec(ring).sign(claims(1_100))
        // Unlike a rotation, which would keep it verifying until 1_100 + 600.
        let (withdrawn, outcome) = try ring.withdrawing(compromised, now: 1_200, policy: policy, force: false)
        #expect(outcome == .switched(to: next.id))
        #expect(withdrawn.currentID == next.id && withdrawn.key(id: compromised) == nil)
        #expect(codec(withdrawn).verify(token[...], now: 1_201).isFailure, "a token the withdrawn key signed is refused")
        #expect(withdrawn.keys.contains { withdrawn.state(of: $0) == .published && $0.createdAt == 1_200 }, "a new next key")
        let kids = JWKSet.document(withdrawn, extra: [])["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue } ?? []
        #expect(!kids.contains(compromised) && kids.count == 2)
        #expect(withdrawn.withdrawn.map(\.id) == [compromised])
        #expect(throws: SigningKeyRing.Failure.self) { try withdrawn.withdrawing(compromised, now: 1_300, policy: policy, force: false) }
        #expect(throws: SigningKeyRing.Failure.self) { try withdrawn.withdrawing("no-such-kid", now: 1_300, policy: policy, force: false) }
    }

    @Test func withdrawingTheNextOrARetiringKeyLeavesSigningAlone() throws {
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        let (rotated, _) = try ring.rotated(to: .es256, now: 2_000, policy: policy)
        let retiring = ring.currentID
        let early = try codec(ring).sign(claims(1_500))
        let (without, outcome) = try rotated.withdrawing(retiring, now: 2_100, policy: policy, force: false)
        #expect(outcome == .removed && without.currentID == rotated.currentID)
        #expect(codec(without).verify(early[...], now: 2_101).isFailure)
        let next = try #require(without.keys.first { without.state(of: $0) == .published })
        let (again, _) = try without.withdrawing(next.id, now: 2_200, policy: policy, force: false)
        #expect(again.currentID == rotated.currentID)
        #expect(again.keys.contains { again.state(of: $0) == .published && $0.id != next.id }, "a new next key replaces it")
    }

    @Test func theOnlyKeyThatCanSignNeedsForce() throws {
        let ring = try SigningKeyRing.create(.hs256, now: 1_000)
        #expect {
            try ring.withdrawing(ring.currentID, now: 1_100, policy: policy, force: false)
        } throws: { error in
            "\(error)".contains("only key that can sign") && "\(error)".contains("--force")
        }
        let token = try codec(ring).sign(claims(1_050))
        let (forced, outcome) = try ring.withdrawing(ring.currentID, now: 1_100, policy: policy, force: true)
        #expect(outcome == .switched(to: forced.currentID) && forced.currentID != ring.currentID)
        #expect(forced.current.algorithm == .hs256 && forced.keys.count == 1)
        #expect(codec(forced).verify(token[...], now: 1_101).isFailure)
    }

    @Test func theStoreIsToldAndTheWithdrawalIsRememberedUntilItsTokensExpired() throws {
        let directory = TemporaryDirectory()
        let ring = try SigningKeyRing.create(.es256, now: 1_000)
        let compromised = ring.currentID
        let (withdrawn, _) = try ring.withdrawing(compromised, now: 1_200, policy: policy, force: false)
        try withdrawn.save(to: SigningKeyRing.path(in: directory.path))
        let loaded = try SigningKeyRing.loadOrCreate(directory: directory.path, now: 1_300)
        #expect(loaded.withdrawn == withdrawn.withdrawn)
        let entry = try #require(loaded.withdrawn.first)
        #expect(Set(entry.publicJWK.keys) == ["kty", "crv", "x", "y"], "the public half only")
        let text = try String(contentsOfFile: SigningKeyRing.path(in: directory.path), encoding: .utf8)
        #expect(text.components(separatedBy: "\"privateKey\"").count - 1 == loaded.keys.count, "no private key kept for it")

        // Published with a notAfter already past: every store deletes such an entry at once.
        let published = SigningKeyExchange.publicKeys(of: loaded, now: 1_300, maxTokenLifetime: 3_600)
        let tombstone = try #require(published.first { $0.keyID == compromised })
        #expect(tombstone.notAfter < 1_200 && tombstone.notBefore < tombstone.notAfter, "strictly past, for any store's comparison")
        #expect(published.filter { $0.notAfter > 1_300 }.count == 2)
        // StoreKit's in-memory store is the reference for what `store.publishSigningKeys` does.
        let store = MemoryStoreBackend()
        try store.publishSigningKeys(SigningKeyExchange.publicKeys(of: ring, now: 1_100, maxTokenLifetime: 3_600), now: 1_100)
        #expect(try store.signingKeys(now: 1_250).contains { $0.keyID == compromised })
        try store.publishSigningKeys(try PublishSigningKeysParams(json: PublishSigningKeysParams(keys: published).json).keys, now: 1_300)
        #expect(try !store.signingKeys(now: 1_300).contains { $0.keyID == compromised }, "the store drops the withdrawn key")

        #expect(try loaded.advanced(now: 1_200 + 3_600, policy: policy) == nil)
        let later = try #require(try loaded.advanced(now: 1_200 + 3_601, policy: policy))
        #expect(later.withdrawn.isEmpty, "forgotten once no token it signed can still be unexpired")
    }
}

extension Result {
    fileprivate var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
