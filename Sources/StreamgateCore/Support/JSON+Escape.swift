extension JSON {
    /// Appends `s` as a JSON string literal, quotes included, to `out`: the byte-level form
    /// the access log writes with (no intermediate String).
    ///
    /// Meant for log lines: quote, backslash, every C0 control, DEL, and U+2028/U+2029
    /// (line separators to some log viewers and to JavaScript) are escaped, so an attacker-
    /// chosen value can neither end the string nor forge a new log line.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(0x22)
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []
        while let b = pending.isEmpty ? utf8.next() : pending.removeFirst() {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            case 0xE2:
                // U+2028 / U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
                guard let b1 = utf8.next() else { out.append(b); continue }
                guard b1 == 0x80, let b2 = utf8.next() else { out.append(b); pending = [b1]; continue }
                if b2 == 0xA8 || b2 == 0xA9 {
                    out.append(contentsOf: Array("\\u202".utf8))
                    out.append(b2 == 0xA8 ? 0x38 : 0x39)
                } else {
                    out.append(contentsOf: [b, b1, b2])
                }
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// `s` escaped for use between double quotes in a JSON string (quotes not added).
    public static func escape(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        appendQuoted(s, to: &out)
        return String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
    }

    /// `s` as a complete JSON string literal, quotes included.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
