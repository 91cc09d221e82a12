import Testing
@testable import StreamgateCore

@Suite("AuthDigest")
struct AuthDigestTests {
    static let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

    @Test func hexRoundTrip() throws {
        let d = try #require(TokenDigest(hex: Self.hex))
        #expect(d.hex == Self.hex)
        #expect(d.bytes.count == 32 && d.bytes[0] == 0x9f && d.bytes[31] == 0x08)
        #expect(TokenDigest(bytes: d.bytes) == d)
        #expect(TokenDigest(hex: Self.hex.uppercased()) == d)
    }

    @Test func rejectsWrongSizes() {
        #expect(TokenDigest(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        #expect(TokenDigest(bytes: [UInt8](repeating: 0, count: 33)) == nil)
        #expect(TokenDigest(hex: String(Self.hex.dropLast())) == nil)
        #expect(TokenDigest(hex: String(Self.hex.dropLast()) + "g") == nil)
    }

    @Test func equalityAndHashingSeeEveryByte() {
        var base = [UInt8](repeating: 7, count: 32)
        let a = TokenDigest(bytes: base)!
        for i in 0..<32 {
            base[i] ^= 1
            #expect(TokenDigest(bytes: base)! != a)
            base[i] ^= 1
        }
        let set: Set<TokenDigest> = [a, TokenDigest(bytes: base)!]
        #expect(set.count == 1)
    }

    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals("abc".utf8, "abc".utf8))
    }
}

@Suite("AuthSessionKeyTemplate")
struct AuthSessionKeyTemplateTests {
    let digest = TokenDigest(hex: AuthDigestTests.hex)!

    @Test func renders() throws {
        #expect(try SessionKeyTemplate("session:{sha256}").render(token: "tok", digest: digest) == "session:" + AuthDigestTests.hex)
        #expect(try SessionKeyTemplate("{token}").render(token: "tok", digest: digest) == "tok")
        #expect(try SessionKeyTemplate("a:{token}:b:{sha256}").render(token: "t", digest: digest) == "a:t:b:" + AuthDigestTests.hex)
        #expect(try !SessionKeyTemplate("s:{sha256}").usesRawToken)
        #expect(try SessionKeyTemplate("s:{token}").usesRawToken)
    }

    @Test func rejectsUnknownOrBrokenPlaceholders() {
        for bad in ["session:{sha1}", "session:{SHA256}", "session:{sha256", "session:sha256}", "session:{{sha256}}",
                    "session:", "", "{}", "x{ token }"] {
            #expect(throws: SessionKeyTemplate.ValidationError.self, "\(bad)") { try SessionKeyTemplate(bad) }
        }
    }
}
