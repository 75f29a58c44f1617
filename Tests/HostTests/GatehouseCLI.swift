import Foundation
import Glibc
@testable import Host

/// Runs the `gatehouse` executable once, as an operator does, in `directory`.
enum GatehouseCLI {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// - Parameter data: appends `--data <directory>/data` (false when the test places it itself).
    static func run(_ arguments: [String], in directory: TemporaryDirectory, stdin: String? = nil, data: Bool = true) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PluginTestSupport.executable("gatehouse"))
        process.arguments = arguments + (data ? ["--data", directory.path + "/data"] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let (out, err, input) = (Pipe(), Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // stderr is read on another thread so a chatty child cannot block on a full pipe.
        let errData = ErrBox()
        let reader = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile(); errData.done.signal() }
        reader.start()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        errData.done.wait()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                   stderr: String(decoding: errData.data, as: UTF8.self))
    }

    private final class ErrBox: @unchecked Sendable {
        // @unchecked: `data` is written by the reader thread before `done` is signalled and read only after.
        var data = Data()
        let done = DispatchSemaphore(value: 0)
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
