import CryptoPrimitives
import Foundation
import Glibc
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `private_key_jwt` and the JWT-bearer grant through the in-process host with the real sqlite-store, with
/// assertions signed here by libcrypto (the Python and Prometheus-shaped clients are in
/// SecretlessClientTests).
@Suite struct ClientAssertionTests {
    static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    static let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    static let tokenURL = "http://gatehouse.test/api/v1/oauth/token"

    struct Signer {
        let key: AsymmetricKey
        let kid: String
        var info: PublicKeyInfo {
            // `publicJWK` of a freshly generated key cannot fail; an empty JWK would fail the test anyway.
            PublicKeyInfo(keyID: kid, algorithm: key.algorithm.rawValue, jwk: (try? key.publicJWK()) ?? [:])
        }

        func assertion(_ client: String, _ changes: (inout [String: JSONValue]) -> Void = { _ in }) throws -> String {
            let now = Int64(time(nil))
            var claims: [String: JSONValue] = ["iss": .string(client), "sub": .string(client), "aud": .string(tokenURL),
                                               "iat": .int(now), "exp": .int(now + 600),
                                               "jti": .string(try SecureRandom.token(byteCount: 16))]
            changes(&claims)
            let header: JSONValue = ["alg": .string(key.algorithm.rawValue), "typ": "JWT", "kid": .string(kid)]
            let input = Base64.encode(JSONWriter.bytes(header), alphabet: .url) + "."
                + Base64.encode(JSONWriter.bytes(.object(claims)), alphabet: .url)
            return input + "." + Base64.encode(try key.sign(Array(input.utf8)), alphabet: .url)
        }
    }

    private func host(keys: [Signer]) async throws -> TestGatehouse {
        let host = try TestGatehouse { config in
            // Many refusals in a row from one address are the point of these tests, not a brute-force attack.
            config.rateLimits.perClient = FailureRateLimiter.Limits(burst: 1000, refillPerSecond: 10)
            config.rateLimits.perAddress = FailureRateLimiter.Limits(burst: 1000, refillPerSecond: 10)
        }
        var client = StoreFixtures.client("keyed")
        client.publicKeys = keys.map(\.info)
        _ = try await host.gatehouse.store.call(ClientStore.create, CreateClientParams(client: client, secret: nil))
        return host
    }

    private func post(_ host: TestGatehouse, path: String = "/api/v1/oauth/token", _ form: [(String, String)]) throws -> ParsedResponse {
        let body = form.map { "\($0)=\(FormURLEncoding.encodeComponent($1))" }.joined(separator: "&")
        return try host.request("POST", path, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
    }

    private func keyJWT(_ host: TestGatehouse, _ assertion: String) throws -> ParsedResponse {
        try post(host, [("grant_type", "client_credentials"), ("client_assertion_type", Self.clientAssertionType),
                        ("client_assertion", assertion)])
    }

    @Test func eachAlgorithmAuthenticatesAndAReplayIsRefused() async throws {
        let signers = try [SignatureAlgorithm.rs256, .es256, .edDSA].map { Signer(key: try AsymmetricKey.generate($0), kid: $0.rawValue) }
        let host = try await host(keys: signers)
        defer { host.stop() }
        for signer in signers {
            let assertion = try signer.assertion("keyed")
            let first = try keyJWT(host, assertion)
            #expect(first.status == 200, "\(signer.kid): \(first.body)")
            let token = try #require(first.json["access_token"]?.stringValue)
            #expect(try host.metrics(token: token).status == 200)
            let again = try keyJWT(host, assertion)
            #expect(again.status == 401 && again.json["error"]?.stringValue == "invalid_client", "\(signer.kid) replay: \(again.body)")
        }
        #expect(host.sink.records.contains { $0.contains("replayed_assertion") })
    }

    @Test func theJWTBearerGrantHonoursScopeAndAnswersInvalidGrant() async throws {
        let signer = Signer(key: try AsymmetricKey.generate(.rs256), kid: "k1")
        let host = try await host(keys: [signer])
        defer { host.stop() }
        let response = try post(host, [("grant_type", Self.grant), ("assertion", try signer.assertion("keyed")), ("scope", "metrics")])
        #expect(response.status == 200 && response.json["scope"]?.stringValue == "metrics", "\(response.body)")
        let notAllowed = try post(host, [("grant_type", Self.grant), ("assertion", try signer.assertion("keyed")), ("scope", "admin")])
        #expect(notAllowed.json["error"]?.stringValue == "invalid_scope", "\(notAllowed.body)")
        let expired = try signer.assertion("keyed") { $0["exp"] = .int(Int64(time(nil)) - 120) }
        let refused = try post(host, [("grant_type", Self.grant), ("assertion", expired)])
        #expect(refused.status == 400 && refused.json["error"]?.stringValue == "invalid_grant", "\(refused.body)")
        let missing = try post(host, [("grant_type", Self.grant)])
        #expect(missing.json["error"]?.stringValue == "invalid_request")
    }

    @Test func aRemovedKeyIsRefusedAtOnceAndItsSuccessorWorks() async throws {
        let old = Signer(key: try AsymmetricKey.generate(.rs256), kid: "old")
        let new = Signer(key: try AsymmetricKey.generate(.edDSA), kid: "new")
        let host = try await host(keys: [old])
        defer { host.stop() }
        #expect(try keyJWT(host, try old.assertion("keyed")).status == 200)
        _ = try await host.gatehouse.store.call(ClientKeys.addPublicKey, AddPublicKeyParams(clientID: "keyed", key: new.info))
        // The overlap: both keys work.
        #expect(try keyJWT(host, try old.assertion("keyed")).status == 200)
        #expect(try keyJWT(host, try new.assertion("keyed")).status == 200)
        _ = try await host.gatehouse.store.call(ClientKeys.removePublicKey, RemovePublicKeyParams(clientID: "keyed", keyID: "old"))
        let refused = try keyJWT(host, try old.assertion("keyed"))
        #expect(refused.status == 401, "a removed key still works: \(refused.body)")
        #expect(try keyJWT(host, try new.assertion("keyed")).status == 200)
    }

    @Test func revocationAndIntrospectionTakeClientAssertions() async throws {
        let signer = Signer(key: try AsymmetricKey.generate(.es256), kid: "k")
        let host = try await host(keys: [signer])
        defer { host.stop() }
        let issued = try keyJWT(host, try signer.assertion("keyed"))
        let token = try #require(issued.json["access_token"]?.stringValue)
        // RFC 7523 §3 item 3: the token endpoint URL, or the endpoint's own, identifies this server.
        let revoke = try post(host, path: "/api/v1/oauth/revoke", [
            ("token", token), ("client_assertion_type", Self.clientAssertionType),
            ("client_assertion", try signer.assertion("keyed") { $0["aud"] = "http://gatehouse.test/api/v1/oauth/revoke" }),
        ])
        #expect(revoke.status == 200, "\(revoke.body)")
        #expect(try host.metrics(token: token).status == 401)
        let wrongAudience = try post(host, path: "/api/v1/oauth/revoke", [
            ("token", token), ("client_assertion_type", Self.clientAssertionType),
            ("client_assertion", try signer.assertion("keyed") { $0["aud"] = "https://elsewhere.example/token" }),
        ])
        #expect(wrongAudience.status == 401 && wrongAudience.json["error"]?.stringValue == "invalid_client")
    }

    @Test func everyAssertionFailureCountsForTheLimits() async throws {
        let signer = Signer(key: try AsymmetricKey.generate(.edDSA), kid: "k")
        let host = try TestGatehouse()  // the default limits: 10 failures per client and address
        defer { host.stop() }
        var client = StoreFixtures.client("keyed")
        client.publicKeys = [signer.info]
        _ = try await host.gatehouse.store.call(ClientStore.create, CreateClientParams(client: client, secret: nil))
        var statuses: [Int] = []
        for _ in 0..<12 {
            let wrong = try signer.assertion("keyed") { $0["aud"] = "https://elsewhere.example/token" }
            statuses.append(try keyJWT(host, wrong).status)
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 } && statuses.last == 429, "\(statuses)")
    }
}
