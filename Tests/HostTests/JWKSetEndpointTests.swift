import CryptoPrimitives
import Foundation
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `GET /.well-known/jwks.json` over HTTP: public members only, advertised in the metadata, cacheable for
/// the max-age the lifecycle honours, and enough to verify the host's tokens for every algorithm.
@Suite struct JWKSetEndpointTests {
    @Test(arguments: [SignatureAlgorithm.rs256, .es256, .edDSA]) func theJWKSetVerifiesIssuedTokens(_ algorithm: SignatureAlgorithm) async throws {
        let host = try TestGatehouse { $0.signingAlgorithm = algorithm }
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        let response = try host.request("GET", "/.well-known/jwks.json")  // No bearer needed.
        #expect(response.status == 200)
        #expect(response.headers["cache-control"] == "public, max-age=\(SigningKeyRing.jwksMaxAge)")
        let keys = try #require(response.json["keys"]?.arrayValue)
        #expect(keys.count == 2, "the active key and the published next key")
        let forbidden: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        for key in keys {
            let members = try #require(key.objectValue)
            #expect(Set(members.keys).isDisjoint(with: forbidden))
            #expect(key["use"] == "sig" && key["alg"] == .string(algorithm.rawValue) && key["kid"]?.stringValue != nil)
            #expect(key["kty"] == .string(algorithm.keyType))
        }
        // Verify the token with nothing but the published key.
        let parts = token.split(separator: ".").map(String.init)
        let kid = try #require(JSONParser.parse(Base64Decode.url(parts[0]))["kid"]?.stringValue)
        let jwk = try #require(keys.first { $0["kid"]?.stringValue == kid }?.objectValue)
        let key = try AsymmetricKey(publicJWK: jwk.dictionary.compactMapValues(\.stringValue), algorithm: algorithm)
        #expect(key.verify(Base64Decode.url(parts[2]), for: Array("\(parts[0]).\(parts[1])".utf8)))
        #expect(try host.metrics(token: token).status == 200, "the host's own bearer check accepts it")
        let metadata = try host.request("GET", "/.well-known/oauth-authorization-server").json
        #expect(metadata["jwks_uri"] == "http://gatehouse.test/.well-known/jwks.json")
        let post = try host.request("POST", "/.well-known/jwks.json")
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
    }

    @Test func hs256PublishesNothingAndStillWorks() async throws {
        let host = try TestGatehouse { $0.signingAlgorithm = .hs256 }
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        #expect(try JSONParser.parse(Base64Decode.url(String(token.split(separator: ".")[0])))["alg"] == "HS256")
        #expect(try host.metrics(token: token).status == 200)
        #expect(try host.request("GET", "/.well-known/jwks.json").json == ["keys": []])
    }

    @Test func switchingFromHS256KeepsOldTokensAndSignsRS256() async throws {
        // An install from before asymmetric keys: HS256 key file, then an upgrade with the RS256 default.
        let host = try TestGatehouse { $0.signingAlgorithm = .hs256 }
        defer { host.stop() }
        try await host.addClient("prom")
        let old = try host.token(id: "prom")
        let path = SigningKeyRing.path(in: host.directory.path + "/data")
        // Rewrite the file in the earlier format: no alg, no lifecycle times, no ring createdAt.
        let ring = try SigningKeyRing.loadOrCreate(directory: host.directory.path + "/data", now: 0)
        guard case .secret(let secret, _) = ring.current.material else { Issue.record("expected HS256"); return }
        let legacy = #"{"current": "\#(ring.currentID)", "keys": [{"kid": "\#(ring.currentID)", "secret": "\#(Base64.encode(secret, alphabet: .url))", "createdAt": 1}]}"#
        try legacy.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        try host.restart { $0.signingAlgorithm = .rs256 }
        let new = try host.token(id: "prom")
        #expect(try JSONParser.parse(Base64Decode.url(String(new.split(separator: ".")[0])))["alg"] == "RS256")
        #expect(try host.metrics(token: new).status == 200)
        #expect(try host.metrics(token: old).status == 200, "HS256 tokens issued before the upgrade verify until they expire")
        let keys = try #require(try host.request("GET", "/.well-known/jwks.json").json["keys"]?.arrayValue)
        #expect(keys.allSatisfy { $0["alg"] == "RS256" }, "the HS256 secret is never published")
        var info = stat()
        stat(path, &info)
        #expect(info.st_mode & 0o077 == 0)
    }
}
