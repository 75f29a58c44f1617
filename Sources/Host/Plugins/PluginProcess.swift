import Foundation
import Glibc
import SystemShims

/// A spawned plugin executable and the host's ends of its three pipes.
///
/// Spawned with `posix_spawn` into its own process group, so a Ctrl-C in the host's terminal reaches the
/// host alone and the host shuts plugins down in order. Every descriptor is close-on-exec, so a plugin
/// inherits nothing but its stdin, stdout and stderr.
final class PluginProcess: Sendable {
    let pid: pid_t
    /// The write end of the plugin's stdin, non-blocking: a plugin that stops reading must not block a caller.
    let stdin: Int32
    let stdout: Int32
    let stderr: Int32
    let executable: String

    private init(pid: pid_t, stdin: Int32, stdout: Int32, stderr: Int32, executable: String) {
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.executable = executable
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    static func spawn(command: String, arguments: [String], environment: [String: String]) throws(SpawnError)
        -> PluginProcess
    {
        // A write to the pipe of a plugin that just died must fail with EPIPE, not kill the host. There is no
        // per-call flag for pipes (MSG_NOSIGNAL is for sockets), so the disposition is process-wide.
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
        let executable: String
        switch locate(command) {
        case .success(let path): executable = path
        case .failure(let error): throw error
        }
        var pipes: [[Int32]] = []
        for _ in 0..<3 {
            var ends: [Int32] = [-1, -1]
            guard gatehouse_pipe_cloexec(&ends) == 0 else {
                let reason = String(cString: strerror(errno))
                pipes.flatMap { $0 }.forEach { close($0) }
                throw SpawnError(description: "cannot create pipes: \(reason)")
            }
            pipes.append(ends)
        }
        let (stdinPipe, stdoutPipe, stderrPipe) = (pipes[0], pipes[1], pipes[2])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 0/1/2 clears close-on-exec on the copies; the originals close at exec.
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // The host ignores SIGPIPE; the plugin gets the default dispositions back.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes,
            Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard status == 0 else {
            [stdinPipe[1], stdoutPipe[0], stderrPipe[0]].forEach { close($0) }
            throw SpawnError(description: "cannot start '\(executable)': \(String(cString: strerror(status)))")
        }
        let flags = fcntl(stdinPipe[1], F_GETFL)
        _ = fcntl(stdinPipe[1], F_SETFL, flags | O_NONBLOCK)
        return PluginProcess(pid: pid, stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0],
                             executable: executable)
    }

    /// The plugins built by this package (`swift build` without `-c release --product` builds them all).
    static let bundledCommands: Set<String> = ["gatehouse-sqlite-store", "gatehouse-file-store", "gatehouse-scope-rbac",
                                               "gatehouse-postgres-store"]

    /// `resolve`, with an error that says what is wrong: missing, not executable, or a directory.
    static func locate(_ command: String) -> Result<String, SpawnError> {
        if let found = resolve(command) { return .success(found) }
        func problem(_ path: String) -> String? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            if info.st_mode & S_IFMT == S_IFDIR { return "'\(path)' is a directory, not a plugin executable" }
            return "'\(path)' is not executable (chmod +x \(path))"
        }
        if command.contains("/") {
            return .failure(SpawnError(description: problem(command) ?? "plugin command '\(command)' not found (no such file)"))
        }
        if let found = searchDirectories().lazy.compactMap({ problem($0 + "/" + command) }).first {
            return .failure(SpawnError(description: "plugin command \(found)"))
        }
        // `swift run gatehouse` builds only the host; the bundled plugins are separate products.
        let hint = bundledCommands.contains(command) ? " (build every product: swift build -c release)" : ""
        return .failure(SpawnError(description: "command '\(command)' not found beside the gatehouse executable or in PATH\(hint)"))
    }

    /// Finds a bare command beside the running executable first (so `gatehouse-sqlite-store` ships next to
    /// `gatehouse`), then in PATH. Paths with a slash are used as given.
    static func resolve(_ command: String) -> String? {
        if command.contains("/") { return isExecutableFile(command) ? command : nil }
        for directory in searchDirectories() {
            let candidate = directory + "/" + command
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return access(path, X_OK) == 0 && stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR
    }

    private static func searchDirectories() -> [String] {
        var directories: [String] = []
        if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((own as NSString).deletingLastPathComponent)
        }
        directories += (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        return directories
    }

    func signal(_ signal: Int32) {
        _ = kill(pid, signal)
    }

    enum Exit: Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        var description: String {
            switch self {
            case .exited(let code): return "exited with status \(code)"
            case .signaled(let signal): return "killed by signal \(signal)"
            }
        }
    }

    /// Reaps the process if it has exited; nil while it runs.
    func reapIfExited() -> Exit? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        return Self.decode(status)
    }

    /// Waits up to `timeout` for the process to exit, polling; nil if it is still running.
    func waitForExit(timeout: Duration) -> Exit? {
        let deadline = MonotonicTime.now() + timeout
        while true {
            if let exit = reapIfExited() { return exit }
            if MonotonicTime.now() >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Ends the process for good: SIGTERM, then SIGKILL after `grace`. Blocks until it is reaped.
    func terminate(grace: Duration) -> Exit {
        if let exit = reapIfExited() { return exit }
        signal(SIGTERM)
        if let exit = waitForExit(timeout: grace) { return exit }
        signal(SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Self.decode(status)
    }

    func closeDescriptors() {
        close(stdin)
        close(stdout)
        close(stderr)
    }

    private static func decode(_ status: Int32) -> Exit {
        // WIFEXITED / WTERMSIG are macros Swift cannot import; these are their glibc definitions.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }
}
