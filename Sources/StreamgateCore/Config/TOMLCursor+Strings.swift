/// TOML's four string forms: basic `"..."`, literal `'...'`, and their multi-line `"""`/`'''`
/// variants.
extension TOMLCursor {
    /// Parses the string starting at the cursor (on `"` or `'`).
    ///
    /// - Parameter allowMultiline: false for keys, which TOML restricts to single-line strings.
    mutating func parseString(allowMultiline: Bool) throws(TOMLSyntaxError) -> String {
        let start = index
        guard let quote = peek(), quote == "\"" || quote == "'" else {
            throw error("expected a string, found \(describe())")
        }
        if peek(1) == quote && peek(2) == quote {
            guard allowMultiline else { throw error("a key cannot be a multi-line string", at: start) }
            advance(3)
            return try parseMultilineString(quote: quote, start: start)
        }
        advance()
        var content = String.UnicodeScalarView()
        while true {
            guard let scalar = peek(), !isAtNewline else {
                throw error("unterminated string: missing closing \(quote)", at: start)
            }
            if scalar == quote {
                advance()
                return String(content)
            }
            if scalar == "\\" && quote == "\"" {
                content.append(try parseEscape())
                continue
            }
            try rejectControl(scalar, literal: quote == "'")
            content.append(scalar)
            advance()
        }
    }

    private mutating func parseMultilineString(quote: Unicode.Scalar, start: Int) throws(TOMLSyntaxError) -> String {
        // "A newline immediately following the opening delimiter will be trimmed."
        _ = consumeNewline()
        var content = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else {
                throw error("unterminated multi-line string: missing closing \(quote)\(quote)\(quote)", at: start)
            }
            if scalar == quote {
                var run = 0
                while peek(run) == quote { run += 1 }
                if run < 3 {
                    for _ in 0..<run { content.append(quote) }
                    advance(run)
                    continue
                }
                // Up to two quotes may sit right before the closing delimiter (`""""` ends with
                // one quote of content). A longer run leaves quotes after the delimiter, which
                // the caller reports as trailing garbage.
                let extra = min(run, 5) - 3
                for _ in 0..<extra { content.append(quote) }
                advance(3 + extra)
                return String(content)
            }
            if consumeNewline() {
                // CR LF and LF both become LF: config values should not depend on the editor.
                content.append("\n")
                continue
            }
            if scalar == "\\" && quote == "\"" {
                if skipLineEndingBackslash() { continue }
                content.append(try parseEscape())
                continue
            }
            try rejectControl(scalar, literal: quote == "'")
            content.append(scalar)
            advance()
        }
    }

    /// A `\` that ends a line (whitespace allowed before the line ending) swallows all
    /// whitespace and newlines up to the next other character. Returns false, consuming nothing,
    /// when the backslash is an ordinary escape.
    private mutating func skipLineEndingBackslash() -> Bool {
        var probe = index + 1
        while let scalar = scalar(at: probe), scalar == " " || scalar == "\t" { probe += 1 }
        guard isNewline(at: probe) else { return false }
        index = probe
        while true {
            skipWhitespace()
            if !consumeNewline() { return true }
        }
    }

    /// Parses an escape sequence; the cursor is on the backslash.
    private mutating func parseEscape() throws(TOMLSyntaxError) -> Unicode.Scalar {
        let start = index
        advance()
        guard let letter = peek(), !isAtNewline else {
            throw error("invalid escape sequence: '\\' followed by \(describe())", at: start)
        }
        advance()
        switch letter {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u": return try parseUnicodeEscape(digits: 4, start: start)
        case "U": return try parseUnicodeEscape(digits: 8, start: start)
        default:
            let shown = TOMLCursor.isControl(letter) ? TOMLCursor.codePoint(letter) : String(letter)
            throw error("invalid escape sequence '\\\(shown)'", at: start)
        }
    }

    private mutating func parseUnicodeEscape(digits: Int, start: Int) throws(TOMLSyntaxError) -> Unicode.Scalar {
        let letter = digits == 4 ? "u" : "U"
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let scalar = peek(), let digit = TOMLCursor.hexValue(scalar) else {
                throw error("invalid escape sequence: '\\\(letter)' needs exactly \(digits) hex digits", at: start)
            }
            value = value << 4 | digit
            advance()
        }
        guard let scalar = Unicode.Scalar(value) else {
            let hex = String(value, radix: 16, uppercase: true)
            throw error("invalid escape sequence: \\\(letter)\(hex) is not a Unicode scalar value", at: start)
        }
        return scalar
    }

    static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": scalar.value - 0x30
        case "a"..."f": scalar.value - 0x61 + 10
        case "A"..."F": scalar.value - 0x41 + 10
        default: nil
        }
    }

    private func rejectControl(_ scalar: Unicode.Scalar, literal: Bool) throws(TOMLSyntaxError) {
        guard TOMLCursor.isControl(scalar) else { return }
        let hint = literal ? "" : "; use an escape sequence"
        throw error("control character \(TOMLCursor.codePoint(scalar)) is not allowed in a string\(hint)")
    }
}
