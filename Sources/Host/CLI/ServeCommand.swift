import Dispatch
import Foundation
import Glibc
import PluginProtocol

/// `gatehouse serve`: runs until SIGTERM or SIGINT, then shuts down gracefully.
enum ServeCommand {
    static func run(_ raw: [String]) -> CommandLineTool.Exit {
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineArguments(raw, valueOptions: ["config", "listen", "data"], flagOptions: [])
            try arguments.expectPositionals(atMost: 0, usage: "gatehouse serve [--config PATH] [--listen HOST:PORT] [--data DIR]")
        } catch {
            CommandLineTool.printError(error.description)
            return .usage
        }
        let config: HostConfig
        switch CommandLineTool.loadConfig(arguments) {
        case .failure(let error):
            CommandLineTool.printError(error.message)
            return error.exit
        case .success(let loaded): config = loaded
        }
        let logger = Logger(minimumLevel: config.logLevel)
        // Signals become events on a queue instead of interrupting whatever thread they land on.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stop = DispatchSemaphore(value: 0)
        let sources = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        let gatehouse: Gatehouse
        do {
            gatehouse = try Gatehouse.start(config: config, logger: logger)
        } catch {
            logger.error("cannot start", ["error": .string(error.description)])
            CommandLineTool.printError("cannot start: \(error.description)")
            return .unavailable
        }
        stop.wait()
        gatehouse.shutdown()
        _ = sources
        return .success
    }
}
