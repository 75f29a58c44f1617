import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// RFC 7009 revocation, RFC 7662 introspection, RFC 8414 discovery, key and secret rotation, over HTTP.
@Suite struct OAuthStandardsTests {
    private func form(_ host: TestGatehouse, _ path: String, id: String, secret: String = StoreFixtures.secret, body: String) throws -> ParsedResponse {
        let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        return try host.request("POST", path, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", basic)],
                                body: body)
    }

    @Test func aClientRevokesItsOwnTokenOnly() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("a")
        try await host.addClient("b")
        let tokenA = try host.token(id: "a")
        let otherA = try host.token(id: "a")
        let tokenB = try host.token(id: "b")
        // Someone else's token: refused, and it keeps working.
        let foreign = try form(host, "/api/v1/oauth/revoke", id: "a", body: "token=\(tokenB)")
        #expect(foreign.status == 400 && foreign.json["error"] == "unauthorized_client")
        #expect(try host.metrics(token: tokenB).status == 200)
        // Its own: 200, and that token (only that one) stops at once.
        let revoked = try form(host, "/api/v1/oauth/revoke", id: "a", body: "token=\(tokenA)&token_type_hint=access_token")
        #expect(revoked.status == 200 && revoked.headers["cache-control"] == "no-store")
        let refused = try host.metrics(token: tokenA)
        #expect(refused.status == 401 && refused.json["error_description"] == "the access token was revoked")
        #expect(try host.metrics(token: otherA).status == 200)
        // Unknown or garbage tokens: 200 (RFC 7009 §2.2). Bad client credentials: 401.
        #expect(try form(host, "/api/v1/oauth/revoke", id: "a", body: "token=garbage").status == 200)
        #expect(try form(host, "/api/v1/oauth/revoke", id: "a", secret: "wrong", body: "token=\(otherA)").status == 401)
        #expect(try form(host, "/api/v1/oauth/revoke", id: "a", body: "").json["error"] == "invalid_request")
    }

    @Test func revocationsSurviveARestartAndReachOtherHosts() async throws {
        let directory = TemporaryDirectory()
        let first = try TestGatehouse(directory: directory)
        defer { first.stop() }
        try await first.addClient("a")
        let token = try first.token(id: "a")
        // A second host on the same store and keys.
        let second = try TestGatehouse(directory: directory)
        defer { second.stop() }
        #expect(try second.metrics(token: token).status == 200)
        #expect(try form(first, "/api/v1/oauth/revoke", id: "a", body: "token=\(token)").status == 200)
        #expect(PluginTestSupport.eventually(timeout: .seconds(3)) { (try? second.metrics(token: token).status) == 401 })
        try first.restart()
        #expect(try first.metrics(token: token).status == 401)
    }

    @Test func introspectionForResourceServers() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("app", scopes: ["metrics"])
        try await host.addClient("resource-server", scopes: ["introspect"])
        let token = try host.token(id: "app")
        let active = try form(host, "/api/v1/oauth/introspect", id: "resource-server", body: "token=\(token)")
        #expect(active.status == 200)
        let body = active.json
        #expect(body["active"] == true && body["client_id"] == "app" && body["sub"] == "app" && body["scope"] == "metrics")
        #expect(body["token_type"] == "Bearer" && body["iss"] == "http://gatehouse.test" && body["aud"] == "gatehouse")
        #expect(body["exp"]?.intValue != nil && body["iat"]?.intValue != nil && body["jti"]?.stringValue != nil)
        for inactive in ["garbage", token + "x"] {
            let answer = try form(host, "/api/v1/oauth/introspect", id: "resource-server", body: "token=\(inactive)")
            #expect(answer.status == 200 && answer.json == ["active": false])
        }
        _ = try form(host, "/api/v1/oauth/revoke", id: "app", body: "token=\(token)")
        #expect(try form(host, "/api/v1/oauth/introspect", id: "resource-server", body: "token=\(token)").json == ["active": false])
        // A client without the introspect scope may not ask.
        let notAllowed = try form(host, "/api/v1/oauth/introspect", id: "app", body: "token=\(try host.token(id: "app"))")
        #expect(notAllowed.status == 403 && notAllowed.json["error"] == "unauthorized_client")
    }

    @Test func discoveryDescribesTheEndpointsActuallyServed() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let response = try host.request("GET", "/.well-known/oauth-authorization-server")
        #expect(response.status == 200)
        let document = response.json
        #expect(document["issuer"] == "http://gatehouse.test")
        #expect(document["grant_types_supported"] == ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"])
        #expect(document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "private_key_jwt"])
        // RFC 8414 §2: the JWS algorithms accepted for private_key_jwt; no none, no HMAC.
        #expect(document["token_endpoint_auth_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256"])
        // Every advertised endpoint exists and is a POST endpoint (a GET answers 405, not 404).
        for key in ["token_endpoint", "revocation_endpoint", "introspection_endpoint"] {
            let url = try #require(document[key]?.stringValue)
            #expect(url.hasPrefix("http://gatehouse.test/"))
            let path = String(url.dropFirst("http://gatehouse.test".count))
            let probe = try host.request("GET", path)
            #expect(probe.status == 405 && probe.headers["allow"] == "POST", "\(key): \(path) answered \(probe.status)")
        }
    }

    @Test func keyRotationKeepsOldTokensValid() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("a")
        let before = try host.token(id: "a")
        let dataDirectory = host.directory.path + "/data"
        let rotated = try runCommand(PluginTestSupport.executable("gatehouse"), ["keys", "rotate", "--data", dataDirectory])
        #expect(rotated.contains("is now current"))
        let newKID = try #require(rotated.split(separator: " ").dropFirst(3).first.map(String.init))
        func kid(_ token: String) -> String? {
            (try? JSONParser.parse(Base64Decode.url(String(token.split(separator: ".")[0]))))?["kid"]?.stringValue
        }
        #expect(PluginTestSupport.eventually(timeout: .seconds(4)) { (try? host.token(id: "a")).flatMap(kid) == newKID })
        #expect(kid(before) != newKID)
        #expect(try host.metrics(token: before).status == 200, "a token from the old key must verify until it expires")
        var info = stat()
        stat(dataDirectory + "/signing-keys.json", &info)
        #expect(info.st_mode & 0o077 == 0)
    }

    @Test func secretRotationWithGraceEndToEnd() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("rot")
        let rotatedAt = MonotonicTime.now()
        _ = try await host.gatehouse.store.call(ClientStore.rotateSecret,
                                                RotateSecretParams(clientID: "rot", secret: StoreFixtures.otherSecret, graceSeconds: 5))
        let old = try host.tokenRequest(id: "rot", secret: StoreFixtures.secret).status
        // On a loaded machine the request may come late; the old secret only has to work inside the grace.
        if MonotonicTime.now().since(rotatedAt) < .seconds(4) { #expect(old == 200) }
        #expect(try host.tokenRequest(id: "rot", secret: StoreFixtures.otherSecret).status == 200)
        while MonotonicTime.now().since(rotatedAt) < .seconds(7) { usleep(100_000) }
        #expect(try host.tokenRequest(id: "rot", secret: StoreFixtures.secret).status == 401)
        #expect(try host.tokenRequest(id: "rot", secret: StoreFixtures.otherSecret).status == 200)
    }
}

enum Base64Decode {
    static func url(_ text: String) -> [UInt8] {
        var padded = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while padded.count % 4 != 0 { padded += "=" }
        return Array(Data(base64Encoded: padded) ?? Data())
    }
}
