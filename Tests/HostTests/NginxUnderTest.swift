import Foundation
import Glibc
@testable import Host

/// A real nginx (Debian package `nginx`) run as the test user in its own directory, serving `servers` (the
/// contents of an `http { }` block) until `stop()`.
final class NginxUnderTest {
    let directory = TemporaryDirectory()
    private let process = Process()

    init(servers: String, waitingFor port: UInt16) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            throw TestFailure("nginx not found: install the Debian package 'nginx' (scripts/bootstrap --test does)")
        }
        let path = directory.path
        let config = """
            worker_processes 1;
            daemon off;
            pid \(path)/nginx.pid;
            error_log \(path)/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(path); proxy_temp_path \(path); fastcgi_temp_path \(path);
                uwsgi_temp_path \(path); scgi_temp_path \(path);
            \(servers)
            }
            """
        try config.write(toFile: path + "/nginx.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-c", path + "/nginx.conf", "-p", path, "-e", path + "/error.log"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard PluginTestSupport.eventually(timeout: .seconds(5), { (try? RawHTTPClient(port: port)) != nil }) else {
            stop()
            throw TestFailure("nginx did not start: \(errors)")
        }
    }

    var errors: String { (try? String(contentsOfFile: directory.path + "/error.log", encoding: .utf8)) ?? "" }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit { stop() }
}
