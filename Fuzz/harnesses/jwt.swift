// libFuzzer harness: access token verification (Sources/Host/Tokens/TokenCodec.swift).
// Properties: verification never crashes; anything it accepts re-signs to a token that verifies; and an
// input that is not exactly the signature of its own header and claims is never accepted.

@testable import CryptoPrimitives
@testable import Host
@testable import JOSE
@testable import PluginProtocol

private let key: SigningKey = {
    let secret = [UInt8](repeating: 42, count: 32)
    return SigningKey(id: "fuzz-key", algorithm: .hs256, material: .secret(secret, HMACKey(key: secret)), createdAt: 0)
}()

private let codec: TokenCodec = {
    guard let ring = try? SigningKeyRing(keys: [key], currentID: "fuzz-key", createdAt: 0) else { preconditionFailure("key ring") }
    return TokenCodec(keys: ring, issuer: "https://issuer", audience: "gatehouse")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch codec.verify(text[...], now: 1_800_000_000) {
    case .failure: break
    case .success(let token):
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        precondition(parts.count == 3, "accepted a token without three parts")
        let signingInput = Array(text.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard let signature = try? key.sign(signingInput), let resigned = try? codec.sign(token) else { preconditionFailure("signing failed") }
        precondition(Array(parts[2].utf8) == Base64.encodeBytes(signature, alphabet: .url), "accepted a token whose signature is not its own")
        if case .failure = codec.verify(resigned[...], now: 1_800_000_000) { preconditionFailure("re-signed token rejected") }
    }
    return 0
}
