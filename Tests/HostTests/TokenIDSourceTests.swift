import CryptoPrimitives
import Testing
@testable import Host

@Suite struct TokenIDSourceTests {
    /// Ids come from a refilled buffer: across several refills each is 16 bytes of base64url and none repeats.
    @Test func idsAreDistinctAcrossRefills() throws {
        let source = TokenIDSource()
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let id = try source.next()
            #expect(id.count == 22)
            #expect(Base64.decode(id, alphabet: .url)?.count == TokenIDSource.byteCount)
            seen.insert(id)
        }
        #expect(seen.count == 1_000)
    }
}
