import Foundation
import Testing
@testable import CryptoPrimitives

/// SHA-256, HMAC-SHA256 and base64url against Python's `hashlib`, `hmac` and `base64` on random inputs of
/// every length around the block boundaries.
@Suite struct CryptoDifferentialTests {
    /// HMAC through libcrypto (what `HMACKey` uses) against the Swift `SHA256` one, for keys and messages of
    /// every length around the block boundaries: two independent implementations must agree.
    @Test func libcryptoHMACMatchesTheSwiftOne() {
        var rng = SystemRandomNumberGenerator()
        for keyLength in [0, 1, 31, 32, 63, 64, 65, 131] {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let mac = HMACKey(key: key)
            for length in Array(0...140) + [1000, 4097] {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let software = message.withUnsafeBytes { mac.softwareAuthenticationCode(for: $0) }
                #expect(mac.authenticationCode(for: message) == software, "key \(keyLength), message \(length)")
            }
        }
    }

    /// The partial-block path: the same message fed in random pieces must hash as it does in one piece.
    @Test func hashingInPiecesMatchesHashingAtOnce() {
        var rng = SystemRandomNumberGenerator()
        for length in Array(0...200) + [1000, 4097] {
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var hasher = SHA256()
            var offset = 0
            while offset < message.count {
                let piece = min(message.count - offset, Int.random(in: 0...70, using: &rng))
                hasher.update(Array(message[offset..<(offset + piece)]))
                offset += piece
            }
            #expect(hasher.finalize() == SHA256.hash(message), "length \(length)")
        }
    }

    @Test func matchesPython() throws {
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        var ours: [String] = []
        for length in Array(0...300) + [1000, 4095, 4096, 65_537] {
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let key = (0..<Int.random(in: 0...150, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let messageHex = message.map { String(format: "%02x", $0) }.joined()
            let keyHex = key.map { String(format: "%02x", $0) }.joined()
            lines.append("\(keyHex) \(messageHex)")
            let digest = SHA256.hash(message).map { String(format: "%02x", $0) }.joined()
            let mac = HMACSHA256.authenticationCode(key: key, message: message).map { String(format: "%02x", $0) }.joined()
            ours.append("\(digest) \(mac) \(Base64.encode(message, alphabet: .url))")
        }
        let script = """
            import sys, hashlib, hmac, base64
            for line in sys.stdin.read().splitlines():
                key_hex, msg_hex = (line.split(' ') + [''])[:2]
                key, msg = bytes.fromhex(key_hex), bytes.fromhex(msg_hex)
                print(hashlib.sha256(msg).hexdigest(), hmac.new(key, msg, hashlib.sha256).hexdigest(),
                      base64.urlsafe_b64encode(msg).decode().rstrip('='))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let payload = Data(lines.joined(separator: "\n").utf8)
        let writer = Thread {
            input.fileHandleForWriting.write(payload)
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let python = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(python.count == ours.count)
        for (index, (theirs, mine)) in zip(python, ours).enumerated() where theirs != mine {
            Issue.record("input \(index) differs: python \(theirs) ours \(mine)")
            break
        }
    }
}
