import CryptoPrimitives
import Foundation
import PluginProtocol
import Testing
@testable import Host

/// RFC 6749 §4.4 over a real socket, with the real store and policy plugins.
@Suite struct TokenEndpointTests {
    @Test func basicAuthGetsARFC9068Token() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("prom", scopes: ["metrics"])
        let response = try host.tokenRequest(id: "prom", secret: secret)
        #expect(response.status == 200)
        #expect(response.headers["cache-control"] == "no-store")
        #expect(response.headers["pragma"] == "no-cache")
        #expect(response.headers["content-type"] == "application/json")
        let body = response.json
        #expect(body["token_type"] == "Bearer")
        #expect(body["expires_in"] == 3600)
        #expect(body["scope"] == "metrics")
        #expect(body["refresh_token"] == nil)
        let parts = try #require(body["access_token"]?.stringValue).split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let header = try JSONParser.parse(try #require(Base64.decode(parts[0], alphabet: .url)))
        #expect(header["typ"] == "at+jwt" && header["alg"] == "RS256" && header["kid"]?.stringValue != nil)
        let claims = try JSONParser.parse(try #require(Base64.decode(parts[1], alphabet: .url)))
        #expect(claims["iss"] == "http://gatehouse.test")
        #expect(claims["sub"] == "prom" && claims["client_id"] == "prom")
        #expect(claims["aud"] == "gatehouse")
        #expect(claims["scope"] == "metrics")
        #expect(claims["jti"]?.stringValue?.count == 22)
        let iat = try #require(claims["iat"]?.intValue)
        #expect(claims["exp"]?.intValue == iat + 3600)
    }

    @Test func bodyCredentialsWorkToo() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("svc")
        let response = try host.tokenRequest(id: "svc", secret: secret, basic: false)
        #expect(response.status == 200, "\(response.body)")
    }

    @Test func basicCredentialsAreFormURLDecoded() async throws {
        // RFC 6749 §2.3.1: id and secret are form-encoded before Basic; Go's x/oauth2 does exactly that.
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = "Ab3+De5/Gh7:Jk9%Mn1&Pq3=St5~Vw7!Yz9@Bc2#Ef4$Hi6"
        try await host.addClient("odd.id_~x", secret: secret)
        #expect(try host.tokenRequest(id: "odd.id_~x", secret: secret).status == 200)
        #expect(try host.tokenRequest(id: "odd.id_~x", secret: secret, basic: false).status == 200)
        // "+" means space: a secret sent raw (unencoded) with "+" does not match.
        let raw = "Basic " + Data("odd.id_~x:\(secret)".utf8).base64EncodedString()
        let response = try host.request("POST", "/api/v1/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded"),
                                                                                   ("Authorization", raw)], body: "grant_type=client_credentials")
        #expect(response.status == 401)
    }

    @Test func clientAuthenticationFailuresAllLookTheSame() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("real")
        let wrong = try host.tokenRequest(id: "real", secret: StoreFixtures.otherSecret)
        let unknown = try host.tokenRequest(id: "ghost", secret: StoreFixtures.secret)
        let postWrong = try host.tokenRequest(id: "real", secret: "nope", basic: false)
        for response in [wrong, unknown, postWrong] {
            #expect(response.status == 401)
            #expect(response.json == ["error": "invalid_client", "error_description": "client authentication failed"])
            #expect(response.headers["www-authenticate"] == #"Basic realm="gatehouse", charset="UTF-8""#)
        }
        var disable = UpdateClientParams(clientID: "real")
        disable.enabled = false
        try await host.update(disable)
        #expect(try host.tokenRequest(id: "real", secret: StoreFixtures.secret).json == wrong.json)
    }

    @Test(arguments: [
        // form, extra headers, expected status, expected error
        ("grant_type=client_credentials&grant_type=client_credentials", "invalid_request"),
        ("scope=metrics", "invalid_request"),
        ("grant_type=password&username=a&password=b", "unsupported_grant_type"),
        ("grant_type=authorization_code&code=x", "unsupported_grant_type"),
        ("grant_type=client_credentials&scope=%22quoted%22", "invalid_scope"),
        ("grant_type=client_credentials&scope=admin", "invalid_scope"),
        ("grant_type=client_credentials&x=%zz", "invalid_request"),
        ("grant_type=client_credentials&x=%FF", "invalid_request"),
    ])
    func malformedRequestsAreRefusedPrecisely(form: String, error: String) async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("c")
        let response = try host.tokenRequest(id: "c", secret: secret, form: form)
        #expect(response.status == 400, "\(form): \(response.body)")
        #expect(response.json["error"]?.stringValue == error, "\(form): \(response.body)")
        #expect(response.headers["cache-control"] == "no-store")
    }

    @Test func bothAuthenticationMethodsAtOnceIsInvalid() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("c")
        let response = try host.tokenRequest(id: "c", secret: secret,
                                             form: "grant_type=client_credentials&client_secret=\(secret)")
        #expect(response.status == 400 && response.json["error"] == "invalid_request")
    }

    @Test func credentialsInTheQueryStringAreRefused() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("c")
        let response = try host.request("POST", "/api/v1/oauth/token?client_id=c&client_secret=\(secret)",
                                        headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                        body: "grant_type=client_credentials")
        #expect(response.status == 400 && response.json["error"] == "invalid_request")
        // And the secret never reaches a log line.
        #expect(!host.sink.records.contains { $0.contains(secret) })
    }

    @Test func wrongContentTypeAndMethod() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let json = try host.request("POST", "/api/v1/oauth/token", headers: [("Content-Type", "application/json")],
                                    body: #"{"grant_type":"client_credentials"}"#)
        #expect(json.status == 400 && json.json["error"] == "invalid_request")
        let get = try host.request("GET", "/api/v1/oauth/token")
        #expect(get.status == 405 && get.headers["allow"] == "POST")
        let charset = try host.request("POST", "/api/v1/oauth/token",
                                       headers: [("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")], body: "grant_type=x")
        #expect(charset.json["error"] == "unsupported_grant_type")
    }

    /// RFC 6749 §3.2: no parameter twice, wherever the second one is; and a body of many parameters is refused
    /// before they are decoded (a request has a handful; thousands would make every lookup a scan).
    @Test func repeatedAndExcessParametersAreRefused() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("c")
        let padding = (1...20).map { "p\($0)=x" }.joined(separator: "&")
        let repeated = try host.tokenRequest(id: "c", secret: secret, form: "grant_type=client_credentials&\(padding)&grant_type=client_credentials")
        #expect(repeated.status == 400 && repeated.json["error_description"] == "parameter 'grant_type' appears more than once")
        let many = (1...OAuthParameters.maxCount).map { "p\($0)=x" }.joined(separator: "&")
        let tooMany = try host.tokenRequest(id: "c", secret: secret, form: "grant_type=client_credentials&\(many)")
        #expect(tooMany.status == 400 && tooMany.json["error_description"]?.stringValue == "more than \(OAuthParameters.maxCount) parameters")
        // Up to the limit, unknown parameters are ignored (§3.2), and empty pieces do not count.
        let atLimit = (2...OAuthParameters.maxCount).map { "p\($0)=x" }.joined(separator: "&&")
        let fine = try host.tokenRequest(id: "c", secret: secret, form: "grant_type=client_credentials&&\(atLimit)&")
        #expect(fine.status == 200, "\(fine.body)")
    }

    @Test func noCredentialsAtAll() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let response = try host.request("POST", "/api/v1/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                        body: "grant_type=client_credentials")
        #expect(response.status == 401 && response.json["error"] == "invalid_client")
        #expect(response.headers["www-authenticate"]?.hasPrefix("Basic") == true)
    }

    @Test func scopesFollowTheClientAndThePolicy() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        var client = StoreFixtures.client("multi", scopes: ["metrics", "reports:read"])
        client.defaultScopes = ["metrics"]
        _ = try await host.gatehouse.store.call(ClientStore.create, CreateClientParams(client: client, secret: StoreFixtures.secret))
        #expect(try host.tokenRequest(id: "multi", secret: StoreFixtures.secret).json["scope"] == "metrics")
        let both = try host.tokenRequest(id: "multi", secret: StoreFixtures.secret, form: "grant_type=client_credentials&scope=reports%3Aread+metrics")
        #expect(both.json["scope"] == "reports:read metrics")
        let denied = try host.tokenRequest(id: "multi", secret: StoreFixtures.secret, form: "grant_type=client_credentials&scope=billing")
        #expect(denied.status == 400 && denied.json["error"] == "invalid_scope")
        #expect(denied.json["error_description"] == "scope 'billing' is not allowed for client 'multi'")
    }

    @Test func grantAnswersAreReusedForTheirCacheLifetime() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("repeat", scopes: ["metrics", "reports"])
        for _ in 0..<5 { #expect(try host.tokenRequest(id: "repeat", secret: StoreFixtures.secret).status == 200) }
        let calls = host.gatehouse.metrics.pluginCalls
        #expect(calls.value(["policy", "policy.grant", "ok"]) == 1, "scope-rbac allows reuse for 1 s: one grant call for five tokens")
        // Anything the answer depends on is in the key: new requested scopes, or a changed client, ask again.
        _ = try host.tokenRequest(id: "repeat", secret: StoreFixtures.secret, form: "grant_type=client_credentials&scope=reports")
        #expect(calls.value(["policy", "policy.grant", "ok"]) == 2)
        var narrower = UpdateClientParams(clientID: "repeat")
        narrower.allowedScopes = ["metrics"]
        narrower.defaultScopes = ["metrics"]
        try await host.update(narrower)
        let refused = try host.tokenRequest(id: "repeat", secret: StoreFixtures.secret, form: "grant_type=client_credentials&scope=reports")
        #expect(refused.status == 400 && refused.json["error"] == "invalid_scope", "a cached grant outlived the client's scopes")
    }

    @Test func lifetimeComesFromTheClientCappedByConfig() async throws {
        let host = try TestGatehouse { $0.maxTokenLifetime = 600 }
        defer { host.stop() }
        try await host.addClient("short", lifetime: 120)
        try await host.addClient("long", lifetime: 86_400)
        #expect(try host.tokenRequest(id: "short", secret: StoreFixtures.secret).json["expires_in"] == 120)
        #expect(try host.tokenRequest(id: "long", secret: StoreFixtures.secret).json["expires_in"] == 600)
    }

    /// What Prometheus (Go x/oauth2) sends: Basic first; after a 401 it retries with body credentials.
    @Test func curlReplaysPrometheusRequests() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let secret = try await host.addClient("prometheus")
        let url = "http://127.0.0.1:\(host.port)/api/v1/oauth/token"
        let basic = try runCommand("/usr/bin/curl", ["-s", "-u", "prometheus:\(secret)", "-H", "User-Agent: Go-http-client/1.1",
                                                     "-d", "grant_type=client_credentials&scope=metrics", url])
        #expect(try JSONParser.parse(basic)["scope"] == "metrics", "\(basic)")
        let retry = try runCommand("/usr/bin/curl", ["-s", "-d", "client_id=prometheus&client_secret=\(secret)&grant_type=client_credentials&scope=metrics", url])
        #expect(try JSONParser.parse(retry)["token_type"] == "Bearer", "\(retry)")
    }
}
