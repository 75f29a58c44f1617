import CryptoPrimitives
import Foundation
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// Every algorithm the host issues verifies, and every way of presenting a token under the wrong
/// algorithm or key is refused (RFC 8725 §2.1, §3.1).
@Suite struct TokenCodecAlgorithmTests {
    static let issuer = "http://gatehouse.test"

    private func claims(_ now: Int64, id: String = "t") -> AccessToken {
        AccessToken(issuer: Self.issuer, clientID: "c", audience: "gatehouse", issuedAt: now, expiresAt: now + 600, tokenID: id,
                    scopes: ["metrics"])
    }

    private func codec(_ algorithm: SignatureAlgorithm) throws -> TokenCodec {
        TokenCodec(keys: try SigningKeyRing.create(algorithm, now: 0), issuer: Self.issuer, audience: "gatehouse")
    }

    /// A token with the given header over `claims`, signed by `sign` (for forgeries).
    private func forge(_ header: String, _ token: AccessToken, sign: ([UInt8]) throws -> [UInt8]) rethrows -> String {
        var input = Base64.encodeBytes(Array(header.utf8), alphabet: .url)
        input.append(UInt8(ascii: "."))
        input += Base64.encodeBytes(token.encodedClaims, alphabet: .url)
        let signature = try sign(input)
        return String(decoding: input, as: UTF8.self) + "." + Base64.encode(signature, alphabet: .url)
    }

    @Test(arguments: SignatureAlgorithm.allCases) func eachAlgorithmSignsAndVerifies(_ algorithm: SignatureAlgorithm) throws {
        let codec = try codec(algorithm)
        let text = try codec.sign(claims(100))
        let header = try JSONParser.parse(try #require(Base64.decode(String(text.split(separator: ".")[0]), alphabet: .url)))
        #expect(header == ["alg": .string(algorithm.rawValue), "typ": "at+jwt", "kid": .string(codec.keys.currentID)])
        let verified = try codec.verify(text[...], now: 100).get()
        #expect(verified.tokenID == "t" && verified.clientID == "c" && verified.scopes == ["metrics"])
        var tampered = Array(text.utf8)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(codec.verify(String(decoding: tampered, as: UTF8.self)[...], now: 100) == .failure(.badSignature))
    }

    @Test func theRSAPublicKeyAsAnHMACSecretIsRefused() throws {
        let codec = try codec(.rs256)
        guard case .asymmetric(let pair) = codec.keys.current.material else { Issue.record("not RSA"); return }
        // The classic confusion: whatever public form a verifier might hash as a secret.
        let jwk = try pair.publicJWK()
        let secrets = [Array((jwk["n"] ?? "").utf8), Array(JSONWriter.bytes(JWKSet.document(codec.keys, extra: [])))]
        let kid = codec.keys.currentID
        for secret in secrets {
            let forged = forge(#"{"alg":"HS256","typ":"at+jwt","kid":"\#(kid)"}"#, claims(100)) { HMACKey(key: secret).authenticationCode(for: $0) }
            #expect(codec.verify(forged[...], now: 100) == .failure(.malformed))
        }
    }

    @Test func noneUnknownKidsAndOtherAlgorithmsAreRefused() throws {
        let rs = try codec(.rs256)
        let hs = try codec(.hs256)
        let kid = rs.keys.currentID
        let none = forge(#"{"alg":"none","typ":"at+jwt","kid":"\#(kid)"}"#, claims(100)) { _ in [] }
        #expect(rs.verify(none[...], now: 100) == .failure(.malformed))
        // An HS256 token (from another ring) presented where RS256 is configured: its kid is unknown here.
        #expect(rs.verify(try hs.sign(claims(100))[...], now: 100) == .failure(.unknownKey))
        // A real RS256 signature under a header naming another algorithm for the same kid.
        guard case .asymmetric(let pair) = rs.keys.current.material else { return }
        let relabelled = try forge(#"{"alg":"PS256","typ":"at+jwt","kid":"\#(kid)"}"#, claims(100)) { try pair.sign($0) }
        #expect(rs.verify(relabelled[...], now: 100) == .failure(.malformed))
        let unknown = try forge(#"{"alg":"RS256","typ":"at+jwt","kid":"nope"}"#, claims(100)) { try pair.sign($0) }
        #expect(rs.verify(unknown[...], now: 100) == .failure(.unknownKey))
        let good = try forge(#"{"alg":"RS256","typ":"at+jwt","kid":"\#(kid)"}"#, claims(100)) { try pair.sign($0) }
        #expect((try? rs.verify(good[...], now: 100).get()) != nil, "the forge helper makes valid tokens when nothing is wrong")
    }

    @Test func aRetiredKeyDoesNotVouchForTokensDatedAfterItRetired() throws {
        let ring = try SigningKeyRing.create(.es256, now: 0)
        let before = TokenCodec(keys: ring, issuer: Self.issuer, audience: "gatehouse")
        let early = try before.sign(claims(50))
        let late = try before.sign(claims(5_000))
        let policy = SigningKeyRing.Policy(algorithm: .es256, maxTokenLifetime: 3_600, rotationPeriod: nil)
        let after = TokenCodec(keys: try ring.rotated(to: .es256, now: 100, policy: policy).ring, issuer: Self.issuer, audience: "gatehouse")
        #expect((try? after.verify(early[...], now: 200).get()) != nil, "signed before the rotation: still valid")
        #expect(after.verify(late[...], now: 5_000) == .failure(.badSignature), "dated after the key retired")
    }

    @Test func anotherHostsPublishedKeysVerifyAndAreServed() throws {
        let other = try codec(.edDSA)
        let mine = try codec(.rs256)
        let published = try JWKSet.document(other.keys, extra: []).arrayMembers.map { try PublishedKey(jwk: $0) }
        let merged = TokenCodec(keys: mine.keys, issuer: Self.issuer, audience: "gatehouse", extraKeys: published)
        #expect((try? merged.verify(try other.sign(claims(100))[...], now: 100).get()) != nil)
        #expect(mine.verify(try other.sign(claims(100))[...], now: 100) == .failure(.unknownKey))
        #expect(JWKSet.document(merged.keys, extra: published)["keys"]?.arrayValue?.count == 4)
        // A published key with private members is refused.
        var leaked = try #require(JWKSet.document(other.keys, extra: [])["keys"]?.arrayValue?.first?.objectValue)
        leaked["d"] = "AAAA"
        #expect(throws: JOSEError.self) { try PublishedKey(jwk: .object(leaked)) }
    }
}

private extension JSONValue {
    var arrayMembers: [JSONValue] { self["keys"]?.arrayValue ?? [] }
}
