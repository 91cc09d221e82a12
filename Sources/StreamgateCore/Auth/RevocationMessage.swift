/// A message on the revocation channel: the hex SHA-256 digest of a revoked token (either
/// case), optionally surrounded by ASCII whitespace, because `echo $d | redis-cli -x PUBLISH`
/// and most shell pipelines append a newline.
///
/// Trimmed bytewise: as Swift `Character`s, "\r\n" is a single grapheme, so a character-set
/// trim that lists "\r\n" misses a lone "\n" or "\r".
public enum RevocationMessage {
    /// The digest named by `payload`, or nil if it names none.
    public static func digest(_ payload: some BidirectionalCollection<UInt8>) -> TokenDigest? {
        var text = payload[...]
        while let b = text.first, isASCIIWhitespace(b) { text = text.dropFirst() }
        while let b = text.last, isASCIIWhitespace(b) { text = text.dropLast() }
        // Checked before anything is copied: a payload may be large.
        guard text.count == TokenDigest.byteCount * 2 else { return nil }
        return TokenDigest(hex: String(decoding: text, as: UTF8.self))
    }

    /// Space, tab, LF, VT, FF, CR.
    static func isASCIIWhitespace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
}
