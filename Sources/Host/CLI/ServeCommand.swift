import Foundation
import Glibc

/// `gatehouse serve`: runs until SIGTERM or SIGINT, then drains and stops; SIGHUP reloads what can change
/// while serving. Every signal and exit code is in Docs/operations.md ("Signals and exit codes").
enum ServeCommand {
    static let usage = """
        usage: gatehouse serve [--config PATH] [--listen HOST:PORT] [--data DIR]

        Runs the authorization server until SIGTERM or SIGINT (then drains and exits 0).
        SIGHUP re-reads the config file and applies log_level, rate_limit, the signing keys and each
        plugin's own config (a config that fails to load changes nothing; the server keeps serving).

          --config PATH       JSON config file (Docs/configuration.md); without it, the zero-config default
          --listen HOST:PORT  overrides `listen` (env GATEHOUSE_LISTEN); [::1]:8080 for IPv6
          --data DIR          overrides `data_dir` (env GATEHOUSE_DATA_DIR)

        Exit codes: 0 stopped by a signal after draining, 1 stopped by a second signal without draining,
        2 usage error, 3 configuration error or cannot start.
        """

    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        let config: HostConfig
        let arguments: CommandLineArguments
        switch CommandLineTool.prepare(raw, valueOptions: ["config", "listen", "data"], usage: usage) {
        case .failure(let error):
            return CommandLineTool.report(error)
        case .success(let (parsed, loaded)): (arguments, config) = (parsed, loaded)
        }
        let logger = Logger(minimumLevel: config.logLevel)
        let signals = ServeSignals()
        let gatehouse: Gatehouse
        do {
            gatehouse = try Gatehouse.start(config: config, logger: logger)
        } catch {
            logger.error("cannot start", ["error": .string(error.description)])
            CommandLineTool.printError("cannot start: \(error.description)")
            return .unavailable
        }
        if !isLoopback(config.listenHost) {
            // Client secrets and tokens cross this listener in clear text unless a TLS proxy terminates it.
            logger.warning("plain HTTP on a non-loopback address: put a TLS proxy in front (Docs/deployment.md)",
                           ["http.listen": .string(HostConfig.authority(config.listenHost, gatehouse.server.port))])
        }
        while true {
            let received = signals.wait()
            logger.info("signal received", ["process.signal": .int(Int64(received)), "process.signal_name": .string(ServeSignals.name(received))])
            guard received == SIGHUP else { break }
            switch CommandLineTool.loadConfig(arguments) {
            case .failure(let error):
                logger.error("reload failed: the config does not load; keeping the running configuration",
                             ["error": .string(error.message)])
            case .success(let new):
                gatehouse.reload(new)
            }
        }
        signals.exitOnSecondStop(logger)
        gatehouse.shutdown()
        return .success
    }

    /// 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// SIGTERM, SIGINT and SIGHUP, delivered as a return from `wait()` instead of interrupting a random thread.
///
/// The signals are blocked in the calling thread before any other thread exists, so every thread created
/// later inherits the mask and `sigwait` is the only place they arrive. (A Dispatch signal source is no use
/// here: on Linux it never sees a signal whose disposition is SIG_IGN, and with the default disposition the
/// process dies first; SIGHUP's default kills the host.) Plugins are spawned with an empty mask, so they
/// still get the signals they are sent.
struct ServeSignals {
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    func wait() -> Int32 {
        var set = self.set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// While the host drains, a second SIGTERM or SIGINT (Ctrl-C twice) exits at once with status 1; plugins
    /// see their stdin close and exit. SIGHUP during the drain is ignored.
    func exitOnSecondStop(_ logger: Logger) {
        Thread.detachNewThread {
            var stops = sigset_t()
            sigemptyset(&stops)
            sigaddset(&stops, SIGTERM)
            sigaddset(&stops, SIGINT)
            var received: Int32 = 0
            while sigwait(&stops, &received) != 0 {}
            logger.warning("second signal while draining; exiting now", ["process.signal": .int(Int64(received))])
            exit(CommandLineTool.Exit.refused.rawValue)
        }
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(signal)"
        }
    }
}
