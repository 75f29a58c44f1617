import Foundation
import Glibc
import JOSE
import PluginProtocol
import Testing
@testable import Host

/// `gatehouse keys list|rotate` as an operator runs them, on a data directory.
@Suite struct KeysCommandTests {
    private func keys(_ arguments: [String], _ directory: TemporaryDirectory) throws -> String {
        try runCommand(PluginTestSupport.executable("gatehouse"), ["keys"] + arguments + ["--data", directory.path + "/data"],
                       mergeErrors: true)
    }

    @Test func listShowsStatesAndRotateKeepsTheRingsAlgorithm() throws {
        let directory = TemporaryDirectory()
        let listed = try keys(["list"], directory)
        let lines = listed.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("active ") && $0.contains(" RS256 ") && $0.contains("active since") && $0.contains("rotates") },
                "\(listed)")
        #expect(lines.contains { $0.hasPrefix("published ") && $0.contains(" RS256 ") }, "\(listed)")
        // Switch to ES256 explicitly; later plain rotations keep ES256 even without the config that chose it.
        let switched = try keys(["rotate", "--algorithm", "ES256"], directory)
        #expect(switched.contains("is now current") || switched.contains("becomes current"), "\(switched)")
        let ring = try SigningKeyRing.loadOrCreate(directory: directory.path + "/data", now: 0)
        let target = ring.keys.contains { $0.algorithm == .es256 }
        #expect(target, "an ES256 key is active or scheduled")
        if ring.current.algorithm == .es256 {
            let again = try keys(["rotate"], directory)
            #expect(again.contains("is now current"), "\(again)")
            let after = try SigningKeyRing.loadOrCreate(directory: directory.path + "/data", now: 0)
            #expect(after.current.algorithm == .es256, "a plain rotation must not switch back to the default RS256")
            #expect(after.keys.contains { after.state(of: $0) == .retiring && $0.algorithm == .rs256 },
                    "the RS256 key keeps verifying its tokens")
        }
        let bad = try keys(["rotate", "--algorithm", "none"], directory)
        #expect(bad.contains("--algorithm must be RS256, ES256, EdDSA or HS256"), "\(bad)")
        // Never a private key on the terminal.
        #expect(!(listed + switched).contains("PRIVATE KEY"))
        var info = stat()
        stat(SigningKeyRing.path(in: directory.path + "/data"), &info)
        #expect(info.st_mode & 0o077 == 0)
    }
}
