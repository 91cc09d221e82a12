/// Byte classes of the HTTP grammar (RFC 9110 §5.6), as branch-light bit tests.
///
/// Bitmasks instead of lookup tables: no global initialisation, no memory load per byte.
@usableFromInline
enum HTTPByte {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C

    /// tchar below 64: `!#$%&'*+-.` and digits.
    private static let tokenLow: UInt64 = 0x03FF_6CFA_0000_0000
    /// tchar from 64 to 127: letters and `^_`|~`.
    private static let tokenHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// `tchar` (RFC 9110 §5.6.2).
    @inline(__always)
    static func isToken(_ b: UInt8) -> Bool {
        if b < 64 { return (tokenLow >> UInt64(b)) & 1 == 1 }
        if b < 128 { return (tokenHigh >> UInt64(b &- 64)) & 1 == 1 }
        return false
    }

    /// SP or HTAB.
    @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// `field-vchar / SP / HTAB` (RFC 9110 §5.5): everything but controls and DEL; obs-text
    /// (0x80-0xFF) included.
    @inline(__always)
    static func isFieldContent(_ b: UInt8) -> Bool { (b >= 0x20 && b != 0x7F) || b == htab }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// Value of a hex digit, or nil.
    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt64? {
        if b &- 0x30 < 10 { return UInt64(b &- 0x30) }
        let l = b | 0x20
        if l &- 0x61 < 6 { return UInt64(l &- 0x61 &+ 10) }
        return nil
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b &- 0x41 < 26) ? b | 0x20 : b }

    // Eight bytes at a time (SWAR), for the scans every head byte goes through. A word is read
    // little-endian, so its lowest set flag is its first byte in memory.
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    static func word(_ base: UnsafeRawPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    /// The high bit of each byte of `x` below `n` (n <= 128); exact for the lowest such byte,
    /// and nonzero exactly when one exists.
    @inline(__always)
    static func below(_ x: UInt64, _ n: UInt8) -> UInt64 { (x &- ones &* UInt64(n)) & ~x & highs }

    /// Index of the first LF in `bytes` at or after `from`, or `bytes.count` when none.
    @inline(__always)
    static func firstLF(in bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return n }
        var i = from
        while i &+ 8 <= n {
            let zero = below(word(base, i) ^ (ones &* UInt64(lf)), 1)
            if zero != 0 { return i &+ zero.trailingZeroBitCount &>> 3 }
            i &+= 8
        }
        while i < n && base.load(fromByteOffset: i, as: UInt8.self) != lf { i &+= 1 }
        return i
    }

    /// Whether bytes `from..<to` are all field content (`isFieldContent`), and whether any of
    /// them is obs-text (0x80-0xFF). Words of plain visible ASCII pass in a few instructions;
    /// a word holding anything else is checked byte by byte.
    @inline(__always)
    static func scanFieldContent(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> (valid: Bool, nonASCII: Bool) {
        guard let base = bytes.baseAddress, from < to else { return (true, false) }
        var nonASCII = false
        var i = from
        while i < to {
            if i &+ 8 <= to {
                let w = word(base, i)
                // Controls (HTAB included), DEL, or obs-text: look closer.
                if below(w, 0x20) | below(w ^ (ones &* 0x7F), 1) | (w & highs) == 0 {
                    i &+= 8
                    continue
                }
            }
            let end = Swift.min(i &+ 8, to)
            while i < end {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                guard isFieldContent(b) else { return (false, nonASCII) }
                if b >= 0x80 { nonASCII = true }
                i &+= 1
            }
        }
        return (true, nonASCII)
    }
}

/// Whether `s` is a non-empty `token` (RFC 9110 §5.6.2): methods, field names, codings.
public func isValidHTTPToken(_ s: String) -> Bool {
    var any = false
    for b in s.utf8 {
        guard HTTPByte.isToken(b) else { return false }
        any = true
    }
    return any
}

/// Whether `s` may be sent as a field value: no CR, LF, NUL or other controls besides HTAB.
public func isValidHTTPFieldValue(_ s: String) -> Bool {
    s.utf8.allSatisfy(HTTPByte.isFieldContent)
}

extension String {
    /// Decodes bytes known to be ASCII (validated by the caller); the ASCII fast path of the
    /// stdlib makes this one copy.
    @inline(__always)
    init(asciiBytes bytes: UnsafeRawBufferPointer) {
        self = String(decoding: bytes, as: UTF8.self)
    }

    /// ASCII-lowercased copy of already validated ASCII bytes. Bytes already lowercase (the
    /// usual Host) take the standard library's ASCII fast path instead of a byte loop.
    init(asciiLowercasing bytes: UnsafeRawBufferPointer) {
        var upper = false
        for b in bytes where b &- 0x41 < 26 { upper = true; break }
        if !upper {
            self = String(decoding: bytes, as: UTF8.self)
            return
        }
        self = String(unsafeUninitializedCapacity: bytes.count) { out in
            for i in 0..<bytes.count { out[i] = HTTPByte.lower(bytes[i]) }
            return bytes.count
        }
    }

    /// ASCII-lowercased copy of already validated ASCII bytes.
    init(asciiLowercasing bytes: some Collection<UInt8>) {
        self = String(unsafeUninitializedCapacity: bytes.count) { out in
            var i = 0
            for b in bytes { out[i] = HTTPByte.lower(b); i += 1 }
            return i
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func slice(_ from: Int, _ to: Int) -> UnsafeRawBufferPointer {
        view(from: from, count: to - from)
    }

    /// Byte equality with a literal (`elementsEqual` on UTF-8 views runs generic iterators:
    /// hundreds of instructions for a word).
    @inline(__always)
    func equals(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount
            && (count == 0 || memcmpBytes(baseAddress.unsafelyUnwrapped, UnsafeRawPointer(literal.utf8Start), count))
    }

    /// Whether the bytes begin with `literal`.
    @inline(__always)
    func starts(with literal: StaticString) -> Bool {
        count >= literal.utf8CodeUnitCount
            && (literal.utf8CodeUnitCount == 0
                || memcmpBytes(baseAddress.unsafelyUnwrapped, UnsafeRawPointer(literal.utf8Start), literal.utf8CodeUnitCount))
    }

    /// Whether the bytes begin with `lowercase` (an ASCII literal in lowercase), ignoring case.
    @inline(__always)
    func startsLowercased(with lowercase: StaticString) -> Bool {
        guard count >= lowercase.utf8CodeUnitCount else { return false }
        let p = lowercase.utf8Start
        for i in 0..<lowercase.utf8CodeUnitCount where HTTPByte.lower(self[i]) != p[i] { return false }
        return true
    }

    /// Case-insensitive comparison with an ASCII literal given in lowercase.
    @inline(__always)
    func equalsLowercased(_ lowercase: StaticString) -> Bool {
        count == lowercase.utf8CodeUnitCount && startsLowercased(with: lowercase)
    }
}

/// Whether `n` bytes at `a` and `b` are equal (a plain loop: the words compared here are short,
/// and Foundation's `memcmp` is not imported by this module).
@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i &+= 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}

/// Byte equality of two strings: no Unicode canonical equivalence (which `==` applies), and
/// none of the generic iteration of `utf8.elementsEqual`.
@inlinable
public func utf8BytesEqual(_ a: String, _ b: String) -> Bool {
    utf8Equal(a, b) { $0 }
}
