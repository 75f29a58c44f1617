import Foundation
import Testing
@testable import Host

/// The route table (`App/Router.swift`) drives dispatch, `405` with `Allow`, metric route labels and the
/// discovery document; each of those is checked against every route over HTTP.
@Suite struct RouteTableTests {
    static let routes: [(path: String, allow: String)] = [
        ("/api/v1/oauth/token", "POST"), ("/api/v1/metrics", "GET, HEAD"), ("/api/v1/status", "GET, HEAD"),
        ("/api/v1/status/ready", "GET, HEAD"), ("/api/v1/auth/verify", "GET, HEAD"), ("/api/v1/oauth/revoke", "POST"),
        ("/api/v1/oauth/introspect", "POST"), ("/.well-known/oauth-authorization-server", "GET, HEAD"),
        ("/.well-known/jwks.json", "GET, HEAD"),
    ]

    @Test func everyRouteAnswersAWrongMethodWithItsAllowList() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        for route in Self.routes {
            let response = try host.request("DELETE", route.path)
            #expect(response.status == 405 && response.headers["allow"] == route.allow, "\(route.path): \(response.status)")
        }
        #expect(try host.request("GET", "/api/v1/nothing-here").status == 404)
        #expect(try host.request("GET", "/.well-known/jwks.json?x=1").status == 200, "the query is not part of the path")
    }

    @Test func routeLabelsComeFromTheTableAndUnknownPathsAreOther() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        try await host.addClient("prom")
        _ = try host.request("GET", "/.well-known/jwks.json")
        _ = try host.request("GET", "/some/unknown/path")
        let body = try host.metrics(token: try host.token(id: "prom")).body
        #expect(body.contains(#"gatehouse_http_requests_total{route="/.well-known/jwks.json",method="GET",status="200"} 1"#), "\(body)")
        #expect(body.contains(#"gatehouse_http_requests_total{route="other",method="GET",status="404"} 1"#))
        #expect(!body.contains("/some/unknown/path"), "unknown paths never become labels")
    }

    @Test func theDiscoveryDocumentNamesTheTablesEndpoints() async throws {
        let host = try TestGatehouse()
        defer { host.stop() }
        let document = try host.request("GET", "/.well-known/oauth-authorization-server").json
        let advertised = ["token_endpoint": "/api/v1/oauth/token", "revocation_endpoint": "/api/v1/oauth/revoke",
                          "introspection_endpoint": "/api/v1/oauth/introspect", "jwks_uri": "/.well-known/jwks.json"]
        for (key, path) in advertised {
            #expect(document[key]?.stringValue == "http://gatehouse.test" + path, "\(key)")
        }
    }
}
