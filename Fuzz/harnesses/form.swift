// libFuzzer harness: form-urlencoded decoding (Sources/Host/OAuth/FormURLEncoding.swift) and base64
// (Sources/CryptoPrimitives/Base64.swift), which decode client credentials.
// Properties: decoded text re-encodes and decodes to itself; accepted base64 is canonical.

@testable import CryptoPrimitives
@testable import Host

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let pairs = try? FormURLEncoding.decode(bytes) {
        for (name, value) in pairs {
            for text in [name, value] {
                let encoded = FormURLEncoding.encodeComponent(text)
                precondition((try? FormURLEncoding.decodeComponent(encoded.utf8)) == text, "form round trip failed")
            }
        }
    }
    for alphabet in [Base64.Alphabet.standard, .url] {
        if let decoded = bytes.withUnsafeBytes({ Base64.decode($0, alphabet: alphabet) }) {
            precondition(Base64.encodeBytes(decoded, alphabet: alphabet) == bytes, "accepted non-canonical base64")
        }
    }
    precondition(Base64.decode(Base64.encode(bytes, alphabet: .url), alphabet: .url) == bytes, "base64url round trip failed")
    return 0
}
