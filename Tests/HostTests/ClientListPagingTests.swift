import Foundation
import PluginProtocol
import Testing
@testable import Host

/// `gatehouse client list` prints page by page (a million clients never sit in memory at once) and still
/// shows every client once, in id order, with its secrets: across page boundaries, in the table and in the one
/// JSON array of `--json`. On postgres-store, whose pages are one statement joining clients and secrets.
@Suite struct ClientListPagingTests {
    @Test func listingMoreThanOnePageShowsEveryClientOnceInOrder() async throws {
        let server = try PostgresServer.shared.get()
        let database = try server.database()
        var spec = PluginSpec(name: "store", role: .store, command: PluginTestSupport.executable("gatehouse-postgres-store"))
        spec.config = ["url": .string(database.conninfo)]
        let pool = try PluginTestSupport.startPool(spec)
        let count = Int(ClientCommand.listPage) * 2 + 3
        let ids = (0..<count).map { String(format: "client-%04d", $0) }
        // Two secrets on the last client of the first page and the first of the second: the join's rows of one
        // client must not be split between clients at a page boundary.
        let rotated: Set<String> = [ids[Int(ClientCommand.listPage) - 1], ids[Int(ClientCommand.listPage)]]
        do {
            defer { pool.shutdown() }
            for id in ids {
                _ = try await pool.call(ClientStore.create, CreateClientParams(client: StoreFixtures.client(id), secret: StoreFixtures.secret))
            }
            for id in rotated {
                _ = try await pool.call(ClientStore.rotateSecret, RotateSecretParams(clientID: id, secret: StoreFixtures.otherSecret, graceSeconds: 600))
            }
        }
        let directory = TemporaryDirectory()
        let config: JSONValue = ["plugins": ["store": ["command": .string(PluginTestSupport.executable("gatehouse-postgres-store")),
                                                       "config": ["url": .string(database.conninfo)]]]]
        try JSONWriter.pretty(config).write(toFile: directory.path + "/gatehouse.json", atomically: true, encoding: .utf8)
        let base = ["--config", directory.path + "/gatehouse.json", "--data", directory.path + "/data"]
        let gatehouse = PluginTestSupport.executable("gatehouse")

        let listed = try #require(try JSONParser.parse(try runCommand(gatehouse, ["client", "list", "--json"] + base)).arrayValue)
        #expect(listed.compactMap { $0["client_id"]?.stringValue } == ids)
        for client in listed {
            let id = client["client_id"]?.stringValue ?? ""
            #expect(client["secrets"]?.arrayValue?.count == (rotated.contains(id) ? 2 : 1), "\(id): \(client)")
        }

        let table = try runCommand(gatehouse, ["client", "list"] + base).split(separator: "\n")
        #expect(table.first?.hasPrefix("CLIENT ID") == true)
        #expect(table.filter { $0.hasPrefix("CLIENT ID") }.count == 1, "one header, not one per page")
        #expect(table.dropFirst().map { String($0.prefix { $0 != " " }) } == ids)
    }
}
