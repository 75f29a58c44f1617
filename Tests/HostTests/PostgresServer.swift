import Foundation
import Glibc
import Synchronization

/// A throwaway PostgreSQL server for the tests: Debian's `initdb` and `pg_ctl`, run as the `postgres` user
/// when the tests run as root (PostgreSQL refuses to run as root), in a temporary directory, on a free
/// loopback port with its unix socket inside that directory. Never the system service. Stopped by `stop()`
/// and, for the shared one, when the test process exits.
final class PostgresServer: @unchecked Sendable {
    // @unchecked: the mutable `running` is guarded by `lock`; everything else is immutable after init.
    let directory: String
    let port: UInt16
    var socketDirectory: String { directory + "/socket" }
    private var dataDirectory: String { directory + "/data" }
    private let lock = NSLock()
    private var running = false
    private let counter = Mutex(0)

    /// One server for the whole test process, started on first use.
    static let shared: Result<PostgresServer, TestFailure> = {
        do {
            let server = try PostgresServer()
            atexit { if case .success(let server) = PostgresServer.shared { server.stop(); server.removeFiles() } }
            return .success(server)
        } catch {
            return .failure(error as? TestFailure ?? TestFailure("\(error)"))
        }
    }()

    static var binaries: String? {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted().last.map { "/usr/lib/postgresql/\($0)/bin" }
    }

    init() throws {
        guard let binaries = Self.binaries else {
            throw TestFailure("PostgreSQL not found: install the Debian package 'postgresql' (scripts/bootstrap --test does)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-pg-\(UUID().uuidString.prefix(8))").path
        port = try ServedGatehouse.freePort()
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        if geteuid() == 0 {
            guard let account = getpwnam("postgres") else { throw TestFailure("no 'postgres' user to run PostgreSQL as") }
            for path in [directory, socketDirectory] { chown(path, account.pointee.pw_uid, account.pointee.pw_gid) }
        }
        try Self.run(asPostgres: true, binaries + "/initdb", ["-D", dataDirectory, "-U", "postgres", "-E", "UTF8", "--locale=C",
                                                             "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"])
        // The superuser may connect over loopback without a password; every other role needs its password.
        let hba = "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        try Self.run(asPostgres: true, "/bin/sh", ["-c", "printf '\(hba)' > '\(dataDirectory)/pg_hba.conf'"])
        try start()
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    func start() throws {
        guard let binaries = Self.binaries else { return }
        let options = "-p \(port) -k \(socketDirectory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200"
        try Self.run(asPostgres: true, binaries + "/pg_ctl", ["-D", dataDirectory, "-o", options, "-l", directory + "/server.log", "-w", "start"])
        lock.withLock { running = true }
    }

    /// Stops the server by its PID file (`pg_ctl stop -m fast`: sessions are closed, as in a restart).
    func stop() {
        guard lock.withLock({ running }), let binaries = Self.binaries else { return }
        _ = try? Self.run(asPostgres: true, binaries + "/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"])
        lock.withLock { running = false }
    }

    func removeFiles() { try? FileManager.default.removeItem(atPath: directory) }

    /// A database (created if it does not exist yet); its connection string in keyword form, over the unix socket.
    func database(_ name: String? = nil) throws -> (name: String, conninfo: String) {
        let database = name ?? "t\(getpid())_\(counter.withLock { $0 += 1; return $0 })"
        if try psql("SELECT 1 FROM pg_database WHERE datname = '\(database)'").isEmpty {
            try psql("CREATE DATABASE \"\(database)\"")
        }
        return (database, "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)")
    }

    /// The same database as a URI over TCP, as a deployment would write it.
    func url(database: String, user: String = "postgres", password: String? = nil) -> String {
        "postgresql://\(user)\(password.map { ":" + $0 } ?? "")@127.0.0.1:\(port)/\(database)"
    }

    /// Runs SQL as the superuser; throws with psql's output if it fails.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run(asPostgres: false, "/usr/bin/psql", ["-h", socketDirectory, "-p", String(port), "-U", "postgres", "-d", database,
                                                         "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
    }

    /// Runs a command to completion with its output in a file. Spawned by hand, not with Foundation's
    /// `Process`: that waits for every descendant to close an inherited descriptor, and `pg_ctl start` leaves
    /// the server running for ever.
    @discardableResult
    private static func run(asPostgres: Bool, _ command: String, _ arguments: [String]) throws -> String {
        // From /tmp: the postgres user cannot enter the test's working directory, and initdb wants to.
        let inTmp = ["/bin/sh", "-c", "cd /tmp && exec \"$@\"", "sh"]
        let argv = asPostgres && geteuid() == 0 ? inTmp + ["/usr/sbin/runuser", "-u", "postgres", "--", command] + arguments : inTmp + [command] + arguments
        let outputPath = NSTemporaryDirectory() + "gatehouse-pg-output-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        let status = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard status == 0 else { throw TestFailure("cannot run \(argv[0]): \(String(cString: strerror(status)))") }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard exitStatus == 0 else {
            throw TestFailure("\(command.split(separator: "/").last ?? "") failed (\(exitStatus)): \(text)")
        }
        return text
    }
}
