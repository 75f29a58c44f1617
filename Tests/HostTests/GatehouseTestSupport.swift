import Foundation
import Glibc
import PluginProtocol
@testable import Host

/// A Gatehouse started in-process with the real plugins, a fresh data directory and a free port.
final class TestGatehouse {
    let directory: TemporaryDirectory
    let sink = MemoryLogSink()
    private(set) var gatehouse: Gatehouse
    var port: UInt16 { gatehouse.server.port }

    init(directory: TemporaryDirectory = TemporaryDirectory(), configure: (inout HostConfig) -> Void = { _ in }) throws {
        self.directory = directory
        gatehouse = try Gatehouse.start(config: Self.config(directory, configure), logger: Logger(sink: sink, minimumLevel: .debug))
    }

    static func config(_ directory: TemporaryDirectory, _ configure: (inout HostConfig) -> Void) -> HostConfig {
        var config = HostConfig()
        config.listenPort = 0
        config.dataDirectory = directory.path + "/data"
        config.issuer = "http://gatehouse.test"
        config.http.threads = 2
        config.store.command = PluginTestSupport.executable("gatehouse-sqlite-store")
        config.store.config = ["path": .string(directory.path + "/data/gatehouse.sqlite3"), "changePollMs": 100]
        config.policy.command = PluginTestSupport.executable("gatehouse-scope-rbac")
        config.store.shutdownGrace = .seconds(2)
        config.policy.shutdownGrace = .seconds(2)
        configure(&config)
        return config
    }

    /// Stops and starts again on the same data directory (a host restart).
    func restart(configure: (inout HostConfig) -> Void = { _ in }) throws {
        gatehouse.shutdown(grace: .seconds(2))
        gatehouse = try Gatehouse.start(config: Self.config(directory, configure), logger: Logger(sink: sink, minimumLevel: .debug))
    }

    func stop() { gatehouse.shutdown(grace: .seconds(2)) }

    @discardableResult
    func addClient(_ id: String, scopes: [String] = ["metrics"], role: String = "", secret: String = StoreFixtures.secret,
                   lifetime: Int64? = nil) async throws -> String
    {
        var client = StoreFixtures.client(id, scopes: scopes, role: role)
        client.tokenLifetime = lifetime
        _ = try await gatehouse.store.call(ClientStore.create, CreateClientParams(client: client, secret: secret))
        return secret
    }

    func update(_ change: UpdateClientParams) async throws {
        _ = try await gatehouse.store.call(ClientStore.update, change)
    }

    // MARK: - HTTP

    func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: String = "") throws -> ParsedResponse {
        let client = try RawHTTPClient(port: port)
        var text = "\(method) \(target) HTTP/1.1\r\nHost: gatehouse.test\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
        client.send(text + "\r\n" + body)
        return client.readResponses(1).first ?? ParsedResponse(status: 0, headers: [:], body: "")
    }

    func tokenRequest(id: String, secret: String, form: String = "grant_type=client_credentials", basic: Bool = true) throws -> ParsedResponse {
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        var body = form
        if basic {
            let pair = FormURLEncoding.encodeComponent(id) + ":" + FormURLEncoding.encodeComponent(secret)
            headers.append(("Authorization", "Basic " + Data(pair.utf8).base64EncodedString()))
        } else {
            body += "&client_id=\(FormURLEncoding.encodeComponent(id))&client_secret=\(FormURLEncoding.encodeComponent(secret))"
        }
        return try request("POST", "/api/v1/oauth/token", headers: headers, body: body)
    }

    func token(id: String, secret: String = StoreFixtures.secret, scope: String? = nil) throws -> String {
        let response = try tokenRequest(id: id, secret: secret, form: "grant_type=client_credentials" + (scope.map { "&scope=\($0)" } ?? ""))
        guard response.status == 200, let token = (try? JSONParser.parse(response.body))?["access_token"]?.stringValue else {
            throw TestFailure("token request failed: \(response.status) \(response.body)")
        }
        return token
    }

    func metrics(token: String) throws -> ParsedResponse {
        try request("GET", "/api/v1/metrics", headers: [("Authorization", "Bearer \(token)")])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsedResponse {
    var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
}
