import CryptoPrimitives
import Testing
@testable import JOSE

/// Generated keys: round trips through PEM and JWK, tamper detection, and keys that must not be accepted.
@Suite struct AsymmetricKeyTests {
    static let algorithms: [SignatureAlgorithm] = [.rs256, .es256, .edDSA]

    @Test(arguments: algorithms) func generatedKeysRoundTrip(_ algorithm: SignatureAlgorithm) throws {
        let key = try AsymmetricKey.generate(algorithm)
        let message = Array("header.claims".utf8)
        let signature = try key.sign(message)
        #expect(signature.count == [SignatureAlgorithm.rs256: 256, .es256: 64, .edDSA: 64][algorithm])
        #expect(key.verify(signature, for: message))
        let reloaded = try AsymmetricKey(privateKeyPEM: try key.privateKeyPEM(), algorithm: algorithm)
        #expect(try reloaded.publicJWK() == key.publicJWK())
        #expect(reloaded.verify(signature, for: message))
        let published = try AsymmetricKey(publicJWK: try key.publicJWK(), algorithm: algorithm)
        #expect(!published.isPrivate)
        #expect(published.verify(try reloaded.sign(message), for: message))
        #expect(throws: JOSEError.self) { try published.privateKeyPEM() }
        // The JWK carries no private member.
        #expect(Set(try key.publicJWK().keys).isDisjoint(with: ["d", "p", "q", "dp", "dq", "qi", "k"]))
    }

    @Test(arguments: algorithms) func tamperingIsDetected(_ algorithm: SignatureAlgorithm) throws {
        let key = try AsymmetricKey.generate(algorithm)
        let other = try AsymmetricKey.generate(algorithm)
        let message = Array("eyJhbGciOi.eyJzdWIiOi".utf8)
        let signature = try key.sign(message)
        for index in [0, signature.count / 2, signature.count - 1] {
            var bad = signature
            bad[index] ^= 0x40
            #expect(!key.verify(bad, for: message))
        }
        var changed = message
        changed[3] ^= 1
        #expect(!key.verify(signature, for: changed))
        #expect(!other.verify(signature, for: message))
        #expect(!key.verify([], for: message))
        #expect(!key.verify(signature + [0], for: message))
    }

    @Test func keysMustFitTheirAlgorithm() throws {
        let rsa = try AsymmetricKey.generate(.rs256)
        let pem = try rsa.privateKeyPEM()
        #expect(throws: JOSEError.self) { try AsymmetricKey(privateKeyPEM: pem, algorithm: .es256) }
        #expect(throws: JOSEError.self) { try AsymmetricKey(privateKeyPEM: pem, algorithm: .edDSA) }
        #expect(throws: JOSEError.self) { try AsymmetricKey(privateKeyPEM: "not a key", algorithm: .rs256) }
        #expect(throws: JOSEError.self) { try AsymmetricKey.generate(.hs256) }
        // An RSA JWK presented as EC, a point off the curve, a short Ed25519 key, a small modulus.
        #expect(throws: JOSEError.self) { try AsymmetricKey(publicJWK: try rsa.publicJWK(), algorithm: .es256) }
        var offCurve = try AsymmetricKey.generate(.es256).publicJWK()
        offCurve["y"] = offCurve["x"]
        #expect(throws: JOSEError.self) { try AsymmetricKey(publicJWK: offCurve, algorithm: .es256) }
        #expect(throws: JOSEError.self) {
            try AsymmetricKey(publicJWK: ["kty": "OKP", "crv": "Ed25519", "x": "AAAA"], algorithm: .edDSA)
        }
        let small = ["kty": "RSA", "n": Base64.encode([0xC1] + [UInt8](repeating: 0x55, count: 127), alphabet: .url), "e": "AQAB"]
        #expect(throws: JOSEError.self) { try AsymmetricKey(publicJWK: small, algorithm: .rs256) }
    }

    @Test func signaturesOfOneAlgorithmDoNotVerifyAsAnother() throws {
        let message = Array("m".utf8)
        let ed = try AsymmetricKey.generate(.edDSA)
        let ec = try AsymmetricKey.generate(.es256)
        // Both are 64 bytes: shape alone does not tell them apart, the key's algorithm does.
        #expect(!ec.verify(try ed.sign(message), for: message))
        #expect(!ed.verify(try ec.sign(message), for: message))
    }
}
