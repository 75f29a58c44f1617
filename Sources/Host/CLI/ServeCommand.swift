import Dispatch
import Foundation
import Glibc
import PluginProtocol

/// `gatehouse serve`: runs until SIGTERM or SIGINT, then shuts down gracefully.
enum ServeCommand {
    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        let config: HostConfig
        switch CommandLineTool.prepare(raw, valueOptions: ["config", "listen", "data"],
                                       usage: "gatehouse serve [--config PATH] [--listen HOST:PORT] [--data DIR]") {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let (_, loaded)): config = loaded
        }
        let logger = Logger(minimumLevel: config.logLevel)
        let stopSignals = StopSignals()
        let gatehouse: Gatehouse
        do {
            gatehouse = try Gatehouse.start(config: config, logger: logger)
        } catch {
            logger.error("cannot start", ["error": .string(error.description)])
            CommandLineTool.printError("cannot start: \(error.description)")
            return .unavailable
        }
        let received = stopSignals.wait()
        logger.info("signal received", ["process.signal": .int(Int64(received))])
        gatehouse.shutdown()
        return .success
    }
}

/// SIGTERM and SIGINT, delivered as a return from `wait()` instead of interrupting a random thread.
///
/// The signals are blocked in the calling thread before any other thread exists, so every thread created
/// later inherits the mask and `sigwait` is the only place they arrive. (A Dispatch signal source is no use
/// here: on Linux it never sees a signal whose disposition is SIG_IGN, and with the default disposition the
/// process dies first.) Plugins are spawned with an empty mask, so they still get the signals they are sent.
struct StopSignals {
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    func wait() -> Int32 {
        var set = self.set
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
