import Testing
import StreamgateCore
import StreamgateIO

/// The gateway's SHA-256 and HMAC-SHA-256 (CStreamgateShims/digest.c, on libcrypto's block
/// functions) against the tests' own implementation (`TestCrypto`, FIPS 180-4 and RFC 2104
/// written out), over the lengths where padding and key handling change: empty input, one
/// block less a byte, exactly a block, and keys shorter than, equal to and longer than a block.
@Suite struct CryptoTests {
    @Test func sha256MatchesAnIndependentImplementation() {
        for length in [0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 128, 1000] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let ours = message.withUnsafeBytes { Crypto.sha256($0) }
            #expect(ours == TestCrypto.sha256(message), "length \(length)")
        }
        #expect(Crypto.sha256Digest("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacSHA256MatchesAnIndependentImplementation() {
        for keyLength in [0, 1, 20, 32, 63, 64, 65, 131] {
            for length in [0, 1, 55, 64, 200] {
                let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
                let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
                #expect(Crypto.HMACKey(key).mac(message) == TestCrypto.hmacSHA256(key: key, message: message),
                        "key \(keyLength), message \(length)")
            }
        }
        // RFC 4231 test case 2.
        #expect(TestCrypto.hex(Crypto.HMACKey(Array("Jefe".utf8)).mac(Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// The prepared key gives the same HMAC whichever way the message is split into the two
    /// pieces it takes (the session part and the request id, per request), and stays reusable.
    @Test func preparedKeyMatchesAtEverySplit() {
        for keyLength in [0, 1, 32, 64, 65, 131] {
            let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
            let prepared = Crypto.HMACKey(key)
            for length in [0, 1, 55, 64, 130] {
                let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
                let expected = TestCrypto.hmacSHA256(key: key, message: message)
                for split in Set([0, length / 3, length]) {
                    let mac = message.withUnsafeBytes { m in
                        prepared.withMAC(of: UnsafeRawBufferPointer(rebasing: m[0..<split]),
                                         UnsafeRawBufferPointer(rebasing: m[split..<length])) { Array($0) }
                    }
                    #expect(mac == expected, "key \(keyLength), message \(length), split \(split)")
                }
                // Reused: the prepared states are copied per MAC, never advanced.
                #expect(prepared.mac(message) == expected)
            }
        }
    }

    @Test func tokenDigestIsTheSHA256OfTheToken() {
        let token = "an-opaque-bearer-token-longer-than-a-small-string"
        #expect(Crypto.sha256Digest(token).bytes == TestCrypto.sha256(Array(token.utf8)))
    }
}
