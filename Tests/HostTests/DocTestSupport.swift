import Foundation
import Glibc

/// One fenced code block of a Markdown page.
struct DocBlock {
    let language: String
    let text: String
}

/// The code blocks of the pages under Docs/ (and the README), so tests run what a reader copies.
enum DocPage {
    static func blocks(_ relativePath: String) throws -> [DocBlock] {
        let lines = try String(contentsOfFile: PluginTestSupport.packageRoot + "/" + relativePath, encoding: .utf8)
            .components(separatedBy: "\n")
        var blocks: [DocBlock] = []
        var index = 0
        while index < lines.count {
            if lines[index].hasPrefix("```") {
                let language = String(lines[index].dropFirst(3))
                var body: [String] = []
                index += 1
                while index < lines.count && !lines[index].hasPrefix("```") {
                    body.append(lines[index])
                    index += 1
                }
                blocks.append(DocBlock(language: language, text: body.joined(separator: "\n")))
            }
            index += 1
        }
        return blocks
    }

    /// The one block of `language` that contains `marker`; a test fails loudly if the page lost it.
    static func block(_ relativePath: String, _ language: String, containing marker: String) throws -> String {
        let matching = try blocks(relativePath).filter { $0.language == language && $0.text.contains(marker) }
        guard matching.count == 1, let block = matching.first else {
            throw TestFailure("\(relativePath): expected one \(language) block containing '\(marker)', found \(matching.count)")
        }
        return block.text
    }
}

struct ShellResult {
    let status: Int32
    let output: String
}

/// Runs `script` with bash in `directory`, stdout and stderr together, killing what it left in the background
/// when it ends. Output goes to a file, not a pipe, so a background job holding it open cannot block us.
func shell(_ script: String, in directory: String, environment: [String: String] = [:], arguments: [String] = [],
           timeout: Duration = .seconds(120)) throws -> ShellResult
{
    let outputPath = directory + "/.shell-output-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", "trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n" + script, "bash"] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let finished = PluginTestSupport.eventually(timeout: timeout) { !process.isRunning }
    if !finished {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
    try output.close()
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return ShellResult(status: finished ? process.terminationStatus : -1, output: text)
}

/// Runs a command with a terminal (a pseudo-terminal's slave side) as its stdin, as a person starting it by
/// hand would; returns its exit status and stderr, or status 124 if it was still waiting after 10 s. Python's
/// `os.openpty` makes the terminal: Glibc's `posix_openpt` is not visible to Swift here.
func runOnTerminal(_ executable: String, _ arguments: [String]) throws -> ShellResult {
    let driver = """
        import os, subprocess, sys
        master, slave = os.openpty()
        env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_PLUGIN_INTERACTIVE"}
        try:
            run = subprocess.run(sys.argv[1:], stdin=slave, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10, env=env)
        except subprocess.TimeoutExpired:
            sys.exit(124)
        sys.stdout.buffer.write(run.stderr)
        sys.exit(run.returncode)
        """
    let directory = TemporaryDirectory()
    return try shell("exec python3 -c \"$DRIVER\" \"$@\"", in: directory.path, environment: ["DRIVER": driver],
                     arguments: [executable] + arguments)
}
