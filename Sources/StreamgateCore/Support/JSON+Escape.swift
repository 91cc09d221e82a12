extension JSON {
    /// `s` escaped for use between double quotes in a JSON string (quotes not added).
    ///
    /// Meant for log lines: quote, backslash, every C0 control, DEL, and U+2028/U+2029
    /// (line separators to some log viewers and to JavaScript) are escaped, so an attacker-
    /// chosen value can neither end the string nor forge a new log line.
    public static func escape(_ s: String) -> String {
        if !s.unicodeScalars.contains(where: needsEscape) { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where needsEscape(scalar): out += "\\u" + hex4(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `s` as a complete JSON string literal, quotes included.
    public static func quoted(_ s: String) -> String { "\"" + escape(s) + "\"" }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x22, 0x5C, 0x7F, 0x2028, 0x2029: true
        default: false
        }
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(v >> 12 & 0xF)], digits[Int(v >> 8 & 0xF)],
                                 digits[Int(v >> 4 & 0xF)], digits[Int(v & 0xF)]], as: UTF8.self)
    }
}
