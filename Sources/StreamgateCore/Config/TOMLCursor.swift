/// A read position over a TOML document's Unicode scalars.
///
/// The parser works on scalars rather than `Character`s because TOML's grammar is defined on
/// code points and `SourcePosition.column` is counted in scalars; a `Character` view would also
/// merge CR LF into one element and hide bare carriage returns, which TOML forbids.
struct TOMLCursor {
    let scalars: [Unicode.Scalar]
    /// Index of the next unread scalar.
    var index = 0
    /// Index of the first scalar of every line, for turning indices into line:column lazily.
    private let lineStarts: [Int]

    init(_ text: String) {
        var scalars = Array(text.unicodeScalars)
        // A byte order mark is an encoding artefact, not content; editors on Windows add one.
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var starts = [0]
        for (offset, scalar) in scalars.enumerated() where scalar == "\n" { starts.append(offset + 1) }
        self.scalars = scalars
        self.lineStarts = starts
    }

    // MARK: Reading

    var isAtEnd: Bool { index >= scalars.count }

    /// The scalar `offset` places after the cursor, or nil past the end.
    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let at = index + offset
        return at < scalars.count ? scalars[at] : nil
    }

    func scalar(at position: Int) -> Unicode.Scalar? {
        position >= 0 && position < scalars.count ? scalars[position] : nil
    }

    mutating func advance(_ count: Int = 1) { index = min(index + count, scalars.count) }

    // MARK: Positions and errors

    func position(of offset: Int) -> SourcePosition {
        // The last line start at or before `offset`.
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return SourcePosition(line: low + 1, column: offset - lineStarts[low] + 1)
    }

    var position: SourcePosition { position(of: index) }

    func error(_ message: String, at offset: Int? = nil) -> TOMLSyntaxError {
        TOMLSyntaxError(position: position(of: offset ?? index), message: message)
    }

    /// How the scalar at `offset` reads in an error message: `'x'`, `newline`, `end of file`.
    func describe(at offset: Int? = nil) -> String {
        let at = offset ?? index
        guard let scalar = self.scalar(at: at) else { return "end of file" }
        switch scalar {
        case "\n": return "newline"
        case "\r": return self.scalar(at: at + 1) == "\n" ? "newline" : "carriage return"
        case "\t": return "tab"
        default:
            if TOMLCursor.isControl(scalar) { return TOMLCursor.codePoint(scalar) }
            if scalar.isASCII { return "'\(scalar)'" }
            // Non-ASCII: name the code point, since look-alikes (a no-break space, a Greek
            // question mark) and invisible characters (a stray byte order mark) cause these.
            let properties = scalar.properties
            let invisible = properties.isWhitespace || properties.generalCategory == .format
            return invisible ? TOMLCursor.codePoint(scalar) : "'\(scalar)' (\(TOMLCursor.codePoint(scalar)))"
        }
    }

    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    // MARK: Character classes

    /// Control characters TOML forbids in comments and strings (tab is allowed).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F
    }

    static func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    static func isDigit(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return scalar >= "0" && scalar <= "9"
    }

    // MARK: Whitespace, newlines, comments

    /// Skips spaces and tabs (TOML's only whitespace).
    mutating func skipWhitespace() {
        while let scalar = peek(), scalar == " " || scalar == "\t" { advance() }
    }

    var isAtNewline: Bool { isNewline(at: index) }

    func isNewline(at offset: Int) -> Bool {
        switch scalar(at: offset) {
        case "\n": true
        case "\r": scalar(at: offset + 1) == "\n"
        default: false
        }
    }

    /// Consumes LF or CR LF if the cursor is on one.
    mutating func consumeNewline() -> Bool {
        if peek() == "\n" { advance(); return true }
        if peek() == "\r" && peek(1) == "\n" { advance(2); return true }
        return false
    }

    /// Consumes a comment (if the cursor is on `#`) up to, not including, its line ending.
    mutating func skipComment() throws(TOMLSyntaxError) {
        guard peek() == "#" else { return }
        advance()
        while let scalar = peek(), !isAtNewline {
            if TOMLCursor.isControl(scalar) {
                throw error("\(describe()) is not allowed in a comment")
            }
            advance()
        }
    }

    /// After a key/value pair or a table header: optional whitespace and comment, then a line
    /// ending or the end of the document.
    mutating func expectLineEnd(after what: String) throws(TOMLSyntaxError) {
        skipWhitespace()
        try skipComment()
        if isAtEnd || consumeNewline() { return }
        throw error("expected a newline after \(what), found \(describe())")
    }

    /// Inside arrays, where values may be spread over lines and commented.
    mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLSyntaxError) {
        while true {
            skipWhitespace()
            try skipComment()
            if !consumeNewline() { return }
        }
    }
}
