import Foundation
import Synchronization
import Testing
@testable import Host

/// Real OAuth client libraries (Python requests-oauthlib and Authlib) against a served Gatehouse.
@Suite struct ClientLibraryTests {
    /// A venv with the pinned libraries, made once under .build/ and reused.
    static func pythonWithLibraries() throws -> String {
        try python(venv: "python-clients", requirements: "Tests/Clients/requirements.txt")
    }

    /// A venv under .build/`venv` with the libraries pinned in `requirements` (relative to the package root),
    /// made once and remade when the requirements change.
    /// Tests run in parallel: two that need the same venv must not both create it (one would find `pip`
    /// missing while the other is still making it).
    private static let venvLock = Mutex(())

    static func python(venv name: String, requirements path: String) throws -> String {
        try venvLock.withLock { _ in try makePython(venv: name, requirements: path) }
    }

    private static func makePython(venv name: String, requirements path: String) throws -> String {
        let venv = PluginTestSupport.packageRoot + "/.build/" + name
        let python = venv + "/bin/python3"
        let requirements = PluginTestSupport.packageRoot + "/" + path
        let marker = venv + "/.installed"
        let wanted = (try? String(contentsOfFile: requirements, encoding: .utf8)) ?? ""
        if (try? String(contentsOfFile: marker, encoding: .utf8)) != wanted {
            _ = try runCommand("/usr/bin/env", ["python3", "-m", "venv", venv])
            _ = try runCommand(venv + "/bin/pip", ["install", "-q", "--disable-pip-version-check", "-r", requirements])
            try wanted.write(toFile: marker, atomically: true, encoding: .utf8)
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("could not create the Python venv at \(venv) (needs python3-venv and PyPI)")
        }
        return python
    }

    @Test func requestsOAuthlibAndAuthlibGetTokensAndUseThem() throws {
        let python = try Self.pythonWithLibraries()
        let gatehouse = try ServedGatehouse()
        defer { gatehouse.stop() }
        let client = try gatehouse.addClient(name: "python-app")
        let output = try runCommand(python, [PluginTestSupport.packageRoot + "/Tests/Clients/oauth_clients.py", gatehouse.url,
                                             client.id, client.secret], mergeErrors: true)
        #expect(output.contains("requests-oauthlib client_secret_basic: ok metrics"), "\(output)")
        #expect(output.contains("authlib client_secret_basic: ok"), "\(output)")
        #expect(output.contains("authlib client_secret_post: ok"), "\(output)")
        #expect(output.contains("authlib wrong secret: invalid_client"), "\(output)\n\(gatehouse.log.suffix(1500))")
    }
}
