/// Small ASCII helpers shared by the auth files (kept here, under one name, so they cannot
/// collide with helpers elsewhere in the module).
enum AuthASCII {
    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    @inline(__always)
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }

    /// Header field names equal ignoring ASCII case and with `_` read as `-`: how some
    /// upstreams (CGI-style frameworks) see them, hence how spoofing attempts are matched.
    static func headerNamesCollide(_ name: UnsafeRawBufferPointer, _ b: String) -> Bool {
        guard name.count == b.utf8.count else { return false }
        let fold = { (c: UInt8) -> UInt8 in c == UInt8(ascii: "_") ? UInt8(ascii: "-") : lower(c) }
        var i = 0
        for c in b.utf8 {
            if fold(c) != fold(name[i]) { return false }
            i += 1
        }
        return true
    }

    /// ASCII case-insensitive equality of a name's bytes and a string.
    static func headerNamesEqual(_ name: UnsafeRawBufferPointer, _ b: String) -> Bool {
        guard name.count == b.utf8.count else { return false }
        var i = 0
        for c in b.utf8 {
            if lower(c) != lower(name[i]) { return false }
            i += 1
        }
        return true
    }

    static func headerNamesCollide(_ a: String, _ b: String) -> Bool {
        utf8Equal(a, b) { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : lower($0) }
    }

    /// No C0 controls, no DEL: safe to place in a header value or a signing input line.
    static func isFieldSafe(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isFieldSafe($0) }
    }

    static func isFieldSafe(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in bytes where b < 0x20 || b == 0x7F { return false }
        return true
    }
}
