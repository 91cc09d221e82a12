import Testing
@testable import StreamgateCore

@Suite("AuthRevocationMessage")
struct AuthRevocationMessageTests {
    static let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    static let digest = TokenDigest(hex: hex)!

    private func parse(_ s: String) -> TokenDigest? { RevocationMessage.digest(Array(s.utf8)) }

    /// `echo $d | redis-cli -x PUBLISH` appends "\n"; other tools "\r\n", or a lone "\r".
    @Test func surroundingASCIIWhitespaceIsTrimmed() {
        for text in [Self.hex, Self.hex + "\n", Self.hex + "\r", Self.hex + "\r\n", " \t" + Self.hex + " \n",
                     "\n" + Self.hex, Self.hex + "\u{0B}\u{0C}", Self.hex.uppercased() + "\n"] {
            #expect(parse(text) == Self.digest, "\(text.debugDescription)")
        }
    }

    @Test func anythingElseNamesNoDigest() {
        let bad = ["", "\n", String(Self.hex.dropLast()) + "\n", Self.hex + "0", Self.hex + "\nx",
                   String(Self.hex.prefix(32)) + " " + String(Self.hex.dropFirst(32)),
                   Self.hex + "\u{A0}",  // NO-BREAK SPACE is not ASCII whitespace
                   "\u{85}" + Self.hex, String(Self.hex.dropLast()) + "g", "not-a-digest"]
        for text in bad { #expect(parse(text) == nil, "\(text.debugDescription)") }
        #expect(RevocationMessage.digest([UInt8](repeating: 0x20, count: 1 << 20) + Array(Self.hex.utf8)) == Self.digest)
        #expect(RevocationMessage.digest([UInt8](repeating: 0x61, count: 1 << 20)) == nil)
    }
}
