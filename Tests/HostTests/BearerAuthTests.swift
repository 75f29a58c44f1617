import CryptoPrimitives
import Foundation
import Glibc
import PluginProtocol
import Testing
@testable import Host

/// RFC 6750 bearer checks and the policy check on `/api/v1/metrics`, over real sockets and plugins.
@Suite struct BearerAuthTests {
    @Test func aValidTokenReadsMetrics() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let response = try host.metrics(token: try host.token(id: "prom"))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.body.contains("gatehouse_tokens_issued_total{client_id=\"prom\"} 1"))
        // The scheme name is case-insensitive (RFC 6750 §2.1 via RFC 9110 §11.1).
        let lower = try host.request("GET", "/api/v1/metrics", headers: [("Authorization", "bearer \(try host.token(id: "prom"))")])
        #expect(lower.status == 200)
    }

    @Test func missingMalformedAndTamperedTokens() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let missing = try host.request("GET", "/api/v1/metrics")
        #expect(missing.status == 401 && missing.headers["www-authenticate"] == #"Bearer realm="gatehouse""#)
        let basic = try host.request("GET", "/api/v1/metrics", headers: [("Authorization", "Basic YTpi")])
        #expect(basic.status == 401 && basic.headers["www-authenticate"] == #"Bearer realm="gatehouse""#)
        let token = try host.token(id: "prom")
        let parts = token.split(separator: ".").map(String.init)
        var signature = Array(parts[2].utf8)
        signature[5] = signature[5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let claims = try JSONParser.parse(Base64.decode(parts[1], alphabet: .url)!)
        var widened = claims.objectValue!
        widened["scope"] = "metrics admin"
        let forgedClaims = Base64.encode(JSONWriter.bytes(.object(widened)), alphabet: .url)
        let noneHeader = Base64.encode(Array(#"{"alg":"none","typ":"at+jwt","kid":"x"}"#.utf8), alphabet: .url)
        let hs512Header = Base64.encode(Array(#"{"alg":"HS512","typ":"at+jwt","kid":"x"}"#.utf8), alphabet: .url)
        let cases = [
            "garbage", "a.b", "a.b.c.d", "\(parts[0]).\(parts[1]).\(String(decoding: signature, as: UTF8.self))",
            "\(parts[0]).\(forgedClaims).\(parts[2])", "\(noneHeader).\(parts[1]).", "\(hs512Header).\(parts[1]).\(parts[2])",
            "\(parts[0]).\(parts[1])", token + "x",
        ]
        for bad in cases {
            let response = try host.request("GET", "/api/v1/metrics", headers: [("Authorization", "Bearer \(bad)")])
            #expect(response.status == 401, "\(bad)")
            #expect(response.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true, "\(bad)")
        }
        let twice = try host.request("GET", "/api/v1/metrics", headers: [("Authorization", "Bearer \(token)"), ("Authorization", "Bearer \(token)")])
        #expect(twice.status == 400)
        let inQuery = try host.request("GET", "/api/v1/metrics?access_token=\(token)")
        #expect(inQuery.status == 400 && inQuery.headers["www-authenticate"]?.contains("invalid_request") == true)
    }

    @Test func aTokenForAnotherIssuerOrAudienceIsRefused() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let keys = try SigningKeyRing.loadOrCreate(directory: host.directory.path + "/data", now: 0)
        let now = Int64(time(nil))
        for (issuer, audience) in [("http://other", "gatehouse"), ("http://gatehouse.test", "someone-else")] {
            let forged = try TokenCodec(keys: keys, issuer: issuer, audience: audience)
                .sign(AccessToken(issuer: issuer, clientID: "prom", audience: audience, issuedAt: now, expiresAt: now + 60,
                                  tokenID: "t", scopes: ["metrics"]))
            #expect(try host.metrics(token: forged).status == 401)
        }
        let codec = TokenCodec(keys: keys, issuer: "http://gatehouse.test", audience: "gatehouse")
        let expired = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "prom", audience: codec.audience, issuedAt: now - 120,
                                             expiresAt: now - 60, tokenID: "e", scopes: ["metrics"]))
        let expiredResponse = try host.metrics(token: expired)
        #expect(expiredResponse.status == 401 && expiredResponse.json["error_description"] == "the access token expired")
        let future = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "prom", audience: codec.audience, issuedAt: now + 3600,
                                            expiresAt: now + 7200, tokenID: "f", scopes: ["metrics"]))
        #expect(try host.metrics(token: future).status == 401)
        // A token names the client instance it was issued to; one without it is not prom's.
        let instance = try await host.gatehouse.store.call(ClientStore.get, ClientIDParams(clientID: "prom")).client?.instance
        #expect(instance != nil)
        let valid = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "prom", audience: codec.audience, issuedAt: now,
                                           expiresAt: now + 60, tokenID: "v", scopes: ["metrics"], clientInstance: instance))
        #expect(try host.metrics(token: valid).status == 200)
        let noInstance = try codec.sign(AccessToken(issuer: codec.issuer, clientID: "prom", audience: codec.audience, issuedAt: now,
                                                expiresAt: now + 60, tokenID: "n", scopes: ["metrics"]))
        #expect(try host.metrics(token: noInstance).status == 401)
    }

    @Test func aTokenIsRefusedBeforeItsNotBefore() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let keys = try SigningKeyRing.loadOrCreate(directory: host.directory.path + "/data", now: 0)
        let codec = TokenCodec(keys: keys, issuer: "http://gatehouse.test", audience: "gatehouse")
        let instance = try await host.gatehouse.store.call(ClientStore.get, ClientIDParams(clientID: "prom")).client?.instance
        let now = Int64(time(nil))
        func token(notBefore: Int64, id: String) throws -> String {
            try codec.sign(AccessToken(issuer: codec.issuer, clientID: "prom", audience: codec.audience, issuedAt: now, expiresAt: now + 7200,
                                   tokenID: id, scopes: ["metrics"], clientInstance: instance, notBefore: notBefore))
        }
        // RFC 7519 §4.1.5: `iat` is now, but the token is not to be used for another hour.
        let later = try host.metrics(token: try token(notBefore: now + 3600, id: "later"))
        #expect(later.status == 401 && later.json["error_description"] == "the access token is not valid yet")
        // Within the clock-skew allowance (30 s), and in the past, it is.
        #expect(try host.metrics(token: try token(notBefore: now + 10, id: "skew")).status == 200)
        #expect(try host.metrics(token: try token(notBefore: now - 10, id: "past")).status == 200)
    }

    @Test func insufficientScopeIs403AndNamesTheScope() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("reporter", scopes: ["reports"])
        let response = try host.metrics(token: try host.token(id: "reporter"))
        #expect(response.status == 403)
        #expect(response.headers["www-authenticate"] == #"Bearer realm="gatehouse", error="insufficient_scope", scope="metrics""#)
        #expect(response.json["error"] == "insufficient_scope")
    }

    @Test func disabledOrDeletedClientsLoseTheirTokensAtOnce() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("a")
        try await host.addClient("b")
        let tokenA = try host.token(id: "a")
        let tokenB = try host.token(id: "b")
        #expect(try host.metrics(token: tokenA).status == 200)
        #expect(try host.metrics(token: tokenB).status == 200)
        var disable = UpdateClientParams(clientID: "a")
        disable.enabled = false
        try await host.update(disable)
        _ = try await host.gatehouse.store.call(ClientStore.delete, ClientIDParams(clientID: "b"))
        // The store announces the change (invalidate); the host drops its cache.
        #expect(PluginTestSupport.eventually(timeout: .seconds(2)) { (try? host.metrics(token: tokenA).status) == 401 })
        #expect(try host.metrics(token: tokenA).json["error_description"] == "the client of this token is disabled")
        #expect(try host.metrics(token: tokenB).json["error_description"] == "the client of this token no longer exists")
        // Re-enabling does not revive tokens issued before the disable.
        var enable = UpdateClientParams(clientID: "a")
        enable.enabled = true
        try await host.update(enable)
        usleep(300_000)
        #expect(try host.metrics(token: tokenA).json["error_description"] == "the access token was revoked")
    }

    @Test func tokensSurviveAHostRestart() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        try host.restart()
        #expect(try host.metrics(token: token).status == 200)
    }

    @Test func aDeadStoreFailsClosedWith503AndRecovers() async throws {
        let host = try TestGatehouse { config in
            config.store.restart.initialBackoff = .seconds(2)
        }
        defer { host.stop() }
        try await host.addClient("prom")
        let token = try host.token(id: "prom")
        let pid = try #require(host.gatehouse.store.health.processes.first?.pid)
        kill(pid, SIGKILL)
        #expect(PluginTestSupport.eventually(timeout: .seconds(1)) { !host.gatehouse.store.health.isReady })
        let start = MonotonicTime.now()
        let refused = try host.tokenRequest(id: "prom", secret: StoreFixtures.secret)
        #expect(MonotonicTime.now().since(start) < .milliseconds(500), "failing closed must be fast")
        #expect(refused.status == 503 && refused.headers["retry-after"] == "1")
        #expect(refused.json["error"] == "temporarily_unavailable")
        let ready = try host.request("GET", "/api/v1/status/ready")
        #expect(ready.status == 503 && ready.json["plugins"]?["store"] != "ready")
        #expect(try host.request("GET", "/api/v1/status").status == 200)
        #expect(PluginTestSupport.eventually(timeout: .seconds(5)) { (try? host.tokenRequest(id: "prom", secret: StoreFixtures.secret).status) == 200 })
        #expect(try host.metrics(token: token).status == 200)
        #expect(try host.request("GET", "/api/v1/status/ready").status == 200)
    }

    @Test func unknownRoutesAndMethods() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        #expect(try host.request("GET", "/nope").status == 404)
        let post = try host.request("POST", "/api/v1/metrics")
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
    }
}
