import Foundation
import Glibc
import Testing
@testable import Host

/// `TokenCodecSource` remembers tokens it verified; what it remembers must never let a token through that a
/// fresh verification would refuse.
@Suite struct VerifiedTokenMemoryTests {
    private let issuer = "http://gatehouse.test"
    private let audience = "gatehouse"

    private func source(in directory: TemporaryDirectory) throws -> TokenCodecSource {
        let keys = try SigningKeyRing.loadOrCreate(directory: directory.path, now: 0)
        return TokenCodecSource(codec: TokenCodec(keys: keys, issuer: issuer, audience: audience), directory: directory.path,
                                logger: Logger(sink: MemoryLogSink(), minimumLevel: .debug))
    }

    private func token(_ source: TokenCodecSource, issuedAt: Int64, lifetime: Int64, id: String = "t") throws -> String {
        try source.current.sign(AccessToken(issuer: issuer, clientID: "c", audience: audience, issuedAt: issuedAt,
                                        expiresAt: issuedAt + lifetime, tokenID: id, scopes: ["metrics"]))
    }

    @Test func aRememberedTokenStillExpires() throws {
        let directory = TemporaryDirectory()
        let source = try source(in: directory)
        let text = try token(source, issuedAt: 1_000, lifetime: 60)
        #expect(try source.verify(text[...], now: 1_010).get().tokenID == "t")
        #expect(source.rememberedCount == 1)
        #expect(try source.verify(text[...], now: 1_020).get().tokenID == "t")
        #expect(source.verify(text[...], now: 1_060) == .failure(.expired))
        // Issued in the future beyond the leeway: refused from memory as it would be fresh.
        let early = try token(source, issuedAt: 5_000, lifetime: 60, id: "early")
        #expect(try source.verify(early[...], now: 4_990).get().tokenID == "early")
        #expect(source.verify(early[...], now: 4_000) == .failure(.notYetValid))
    }

    @Test func onlyGoodTokensAreRemembered() throws {
        let directory = TemporaryDirectory()
        let source = try source(in: directory)
        let text = try token(source, issuedAt: 1_000, lifetime: 60)
        var tampered = Array(text.utf8)
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let forged = String(decoding: tampered, as: UTF8.self)
        #expect(source.verify(forged[...], now: 1_010) == .failure(.badSignature))
        #expect(source.verify(text[...], now: 2_000) == .failure(.expired))
        #expect(source.rememberedCount == 0)
        // A remembered token does not vouch for a different text.
        #expect(try source.verify(text[...], now: 1_010).get().tokenID == "t")
        #expect(source.verify(forged[...], now: 1_010) == .failure(.badSignature))
    }

    @Test func replacedKeysForgetWhatTheyVerified() throws {
        let directory = TemporaryDirectory()
        let source = try source(in: directory)
        let now = Int64(time(nil))
        let text = try token(source, issuedAt: now, lifetime: 600)
        #expect((try? source.verify(text[...], now: now).get()) != nil)
        // The operator replaces a leaked key: tokens it signed must stop at the next reload, remembered or not.
        try FileManager.default.removeItem(atPath: SigningKeyRing.path(in: directory.path))
        _ = try SigningKeyRing.loadOrCreate(directory: directory.path, now: now)
        source.reloadIfChanged()
        #expect(source.rememberedCount == 0)
        #expect((try? source.verify(text[...], now: now).get()) == nil)
    }
}
