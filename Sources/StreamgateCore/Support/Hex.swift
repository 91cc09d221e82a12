/// Lowercase hexadecimal, as used for digests, signatures and ids.
public enum Hex {
    /// Written straight into the string's storage: a signature is encoded on every signed
    /// request.
    public static func lowercase(_ bytes: [UInt8]) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            let d = digits.utf8Start
            var n = 0
            for b in bytes {
                out[n] = d[Int(b >> 4)]
                out[n + 1] = d[Int(b & 0x0F)]
                n += 2
            }
            return n
        }
    }

    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        lowercase(Array(bytes))
    }
}
