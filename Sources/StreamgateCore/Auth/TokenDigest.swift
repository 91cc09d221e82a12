/// The SHA-256 (or HMAC-SHA-256) digest of a bearer token: how tokens are stored, cached
/// and revoked, so the raw token never has to be kept (RFC 9700 §4.x, REFERENCES.md).
///
/// The digest itself is computed by the IO layer (libcrypto); this type only carries it.
/// It is four inline words, so using it as a dictionary key allocates nothing, and `==`
/// is constant-time (no early exit), as REFERENCES.md asks for digest comparisons.
public struct TokenDigest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    // Big-endian words: word0 holds bytes 0..<8.
    private let w0, w1, w2, w3: UInt64

    /// Exactly 32 bytes, else nil. The concrete overload for what the digest functions return:
    /// the generic one below, called from another module, runs unspecialised (tens of
    /// thousands of instructions per token under callgrind).
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        (w0, w1, w2, w3) = bytes.withUnsafeBytes { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
    }

    /// The first 32 of `bytes`, which must hold at least that many.
    public init(bytes raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= Self.byteCount, "a digest is 32 bytes")
        (w0, w1, w2, w3) = (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// Exactly 32 bytes, else nil.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var (a, b, c, d): (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (i, byte) in bytes.enumerated() {
            switch i >> 3 {
            case 0: a = a << 8 | UInt64(byte)
            case 1: b = b << 8 | UInt64(byte)
            case 2: c = c << 8 | UInt64(byte)
            default: d = d << 8 | UInt64(byte)
            }
        }
        (w0, w1, w2, w3) = (a, b, c, d)
    }

    /// 64 hex digits, either case (as published on the revocation channel), else nil.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == Self.byteCount * 2 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        var i = 0
        while i < utf8.count {
            guard let hi = AuthASCII.hexValue(utf8[i]), let lo = AuthASCII.hexValue(utf8[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes: bytes)
    }

    /// The 32 bytes, in order.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        for w in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift))) }
        }
        return out
    }

    /// Lowercase hex, 64 characters: what `{sha256}` renders to in Redis keys.
    public var hex: String { Hex.lowercase(bytes) }

    public var description: String { hex }

    /// Constant-time: every word is compared whatever the earlier ones held.
    public static func == (a: TokenDigest, b: TokenDigest) -> Bool {
        ((a.w0 ^ b.w0) | (a.w1 ^ b.w1) | (a.w2 ^ b.w2) | (a.w3 ^ b.w3)) == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(w0)
        hasher.combine(w1)
        hasher.combine(w2)
        hasher.combine(w3)
    }
}
