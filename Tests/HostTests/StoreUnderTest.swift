import Foundation
import PluginProtocol
@testable import Host

/// A store plugin the conformance suite runs against: the bundled ones, the Python example, and any
/// command named in GATEHOUSE_STORE_UNDER_TEST (its config gets `{"path": <fresh file>}`).
struct StoreUnderTest: CustomStringConvertible, Sendable {
    let description: String
    let command: String
    let arguments: [String]
    let fileName: String
    /// The key of its change-poll interval, if it has one: stores refuse config keys they do not know.
    var pollKey: String? {
        switch description {
        case "sqlite-store": return "changePollMs"
        case "file-store": return "reloadMs"
        default: return nil
        }
    }
    /// Gets `{"url": …}` for a database of its own per test directory on the shared test server instead of a path.
    var usesPostgres = false

    static var all: [StoreUnderTest] {
        var stores = [
            StoreUnderTest(description: "sqlite-store", command: PluginTestSupport.executable("gatehouse-sqlite-store"),
                           arguments: [], fileName: "clients.sqlite3"),
            StoreUnderTest(description: "file-store", command: PluginTestSupport.executable("gatehouse-file-store"),
                           arguments: [], fileName: "clients.json"),
            StoreUnderTest(description: "python-store", command: "/usr/bin/env",
                           arguments: ["python3", PluginTestSupport.packageRoot + "/Docs/examples/python-store/store.py"],
                           fileName: "clients.db"),
        ]
        stores.append(StoreUnderTest(description: "postgres-store", command: PluginTestSupport.executable("gatehouse-postgres-store"),
                                     arguments: [], fileName: "", usesPostgres: true))
        if let custom = custom(ProcessInfo.processInfo.environment) { stores.append(custom) }
        return stores
    }

    /// The store named in GATEHOUSE_STORE_UNDER_TEST, if any.
    static func custom(_ environment: [String: String]) -> StoreUnderTest? {
        guard let text = environment["GATEHOUSE_STORE_UNDER_TEST"], let command = PluginCommandLine(text) else { return nil }
        return StoreUnderTest(description: "custom: \(text)", command: command.executable, arguments: command.arguments, fileName: "clients")
    }

    func spec(in directory: String, extraConfig: [String: JSONValue] = [:]) -> PluginSpec {
        var spec = PluginSpec(name: "store", role: .store, command: command)
        spec.arguments = arguments
        var config: [String: JSONValue] = ["path": .string(directory + "/" + fileName)]
        if let pollKey { config[pollKey] = 100 }
        if usesPostgres {
            // The same directory means the same database, so a restarted plugin finds what it wrote.
            let name = "t_" + String(directory.split(separator: "/").last ?? "x").filter(\.isHexDigit).lowercased()
            let url: String
            do {
                url = try PostgresServer.shared.get().database(name).conninfo
            } catch {
                url = "invalid: \(error)"  // The plugin refuses it, and the test shows why.
            }
            config = ["url": .string(url)]
        }
        // A poll interval given for the other kind of store is dropped, not sent to a store that refuses it.
        config.merge(extraConfig.filter { ($0.key != "changePollMs" && $0.key != "reloadMs") || $0.key == pollKey }) { _, new in new }
        spec.config = .object(config)
        spec.shutdownGrace = .seconds(2)
        spec.restart.initialBackoff = .milliseconds(20)
        return spec
    }
}

/// A plugin command given as one string in an environment variable (`python3 my_store.py`). A first word
/// without a slash is looked up in PATH, as a shell would, through /usr/bin/env: the supervisor spawns the
/// path it is given and would not find a bare `python3`.
struct PluginCommandLine: Equatable {
    let executable: String
    let arguments: [String]

    init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    init?(_ text: String) {
        let words = text.split(separator: " ").map(String.init)
        guard let first = words.first else { return nil }
        if first.contains("/") {
            executable = first
            arguments = Array(words.dropFirst())
        } else {
            executable = "/usr/bin/env"
            arguments = words
        }
    }
}

/// A fresh directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum StoreFixtures {
    static let secret = "Zq8vN3kLp0Wc7Rt2Yh5Jm9Fb4Xs6Dg1Ae0Ui3Oo5Pq"
    static let otherSecret = "Hk2Lm4Nq6Pr8St0Uv2Wx4Yz6Ab8Cd0Ef2Gh4Ij6Kl8"

    static func client(_ id: String, scopes: [String] = ["metrics"], role: String = "scraper") -> ClientRecord {
        ClientRecord(id: id, name: "Client \(id)", role: role, allowedScopes: scopes, defaultScopes: scopes,
                     tokenLifetime: nil, enabled: true, createdAt: 0, updatedAt: 0)
    }
}
