import Foundation
import Testing
@testable import PluginProtocol

/// Differential tests against CPython's `json` module, the reference most plugin authors will use.
@Suite struct JSONDifferentialTests {
    /// Python generates random documents (deep nesting, every escape, astral characters, big and small
    /// numbers); we parse each and write it back; Python checks that our output means the same thing.
    @Test func roundTripMatchesPython() throws {
        let script = #"""
import json, random, sys
random.seed(7)
def rand_str():
    pool = ['a', 'é', '😀', '"', '\\', '\n', '\t', '\x00', '\x1f', '\u2028', '/', ' ', 'z', '\ud7ff', '\ue000']
    return ''.join(random.choice(pool) for _ in range(random.randint(0, 12)))
def rand_value(depth=0):
    r = random.random()
    if depth > 6 or r < 0.3:
        return random.choice([
            None, True, False, random.randint(-2**63, 2**63 - 1), random.randint(-1000, 1000),
            random.uniform(-1e300, 1e300), random.uniform(-1, 1) * 10 ** random.randint(-300, 300), rand_str()])
    if r < 0.65:
        return [rand_value(depth + 1) for _ in range(random.randint(0, 5))]
    return {rand_str(): rand_value(depth + 1) for _ in range(random.randint(0, 5))}
mode = sys.argv[1]
if mode == 'generate':
    for _ in range(2000):
        print(json.dumps(rand_value(), ensure_ascii=random.random() < 0.5))
else:
    originals = open(sys.argv[2], encoding='utf-8').read().split('\n')
    ours = open(sys.argv[3], encoding='utf-8').read().split('\n')
    assert len(originals) == len(ours), (len(originals), len(ours))
    for i, (a, b) in enumerate(zip(originals, ours)):
        if json.loads(a) != json.loads(b):
            print(f'line {i}: {a!r} became {b!r}')
            sys.exit(1)
    print(f'{len(ours)} documents agree')
"""#
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("json-diff-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let scriptPath = directory.appendingPathComponent("diff.py").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)

        let generated = try runPython([scriptPath, "generate"])
        #expect(generated.status == 0)
        let lines = generated.output.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 2000)
        var rewritten: [String] = []
        for line in lines {
            let value = try JSONParser.parse(String(line))
            let written = JSONWriter.string(value)
            #expect(!written.contains("\n"))
            rewritten.append(written)
        }
        let originalsPath = directory.appendingPathComponent("a.jsonl").path
        let oursPath = directory.appendingPathComponent("b.jsonl").path
        try lines.joined(separator: "\n").write(toFile: originalsPath, atomically: true, encoding: .utf8)
        try rewritten.joined(separator: "\n").write(toFile: oursPath, atomically: true, encoding: .utf8)
        let verdict = try runPython([scriptPath, "check", originalsPath, oursPath])
        #expect(verdict.status == 0, "\(verdict.output)")
    }

    /// Texts Python accepts but we refuse on purpose, and texts both refuse.
    @Test func refusalsAreDeliberate() throws {
        // Python takes the last duplicate key and NaN; we refuse both (see JSONParser).
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse("NaN") }
    }

    private func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["PYTHONIOENCODING": "utf-8"]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
