/// A TOML 1.0 parser that keeps the source position of every key and value.
///
/// Positions are what set it apart from off-the-shelf decoders: config validation reports
/// `file:line:col` for semantic mistakes (an unknown key, a duration that does not parse), not
/// only for syntax errors.
public enum TOMLParser {
    /// Parses a whole document. Throws the FIRST syntax error with its position.
    ///
    /// Keys keep source order. Tables opened by `[header]` are positioned at the `[`; tables
    /// only implied by a header prefix or a dotted key are positioned where first implied;
    /// each `[[array]]` element is positioned at its own header. Date-times are validated and
    /// kept as their source text.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = TOMLDocumentParser(text)
        return try parser.parseDocument()
    }
}

/// The grammar above single tokens: lines, headers, key/value pairs, arrays, inline tables.
struct TOMLDocumentParser {
    private var cursor: TOMLCursor
    private var builder = TOMLTableBuilder()
    /// Arrays and inline tables currently open around the cursor.
    private var depth = 0

    /// Parsing is recursive; a bound turns a pathological `[[[[...` into an error instead of a
    /// stack overflow. No real config comes near it.
    static let maximumNesting = 128

    init(_ text: String) {
        cursor = TOMLCursor(text)
    }

    mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        var table = TOMLTableBuilder.root
        var section = 0
        while true {
            cursor.skipWhitespace()
            guard let scalar = cursor.peek() else { break }
            if scalar == "#" {
                try cursor.skipComment()
            } else if cursor.consumeNewline() {
                continue
            } else if scalar == "[" {
                table = try parseHeader()
                section = builder.newSection()
            } else {
                try parseKeyValue(into: table, section: section)
                try cursor.expectLineEnd(after: "the value")
            }
        }
        return builder.build(TOMLTableBuilder.root)
    }

    // MARK: Lines

    /// `[a.b]` or `[[a.b]]`; returns the table that following pairs belong to.
    private mutating func parseHeader() throws(TOMLSyntaxError) -> Int {
        let start = cursor.index
        let isArray = cursor.peek(1) == "["
        cursor.advance(isArray ? 2 : 1)
        cursor.skipWhitespace()
        let key = try parseKey()
        let table: Int
        if isArray {
            guard cursor.peek() == "]" && cursor.peek(1) == "]" else {
                // Point past a lone `]`: "found ']'" would read as nonsense for `[[a] ]`.
                let at = cursor.peek() == "]" ? cursor.index + 1 : cursor.index
                throw cursor.error("expected ']]' to close the array of tables header, found \(cursor.describe(at: at))", at: at)
            }
            cursor.advance(2)
            table = try builder.appendArrayTable(key, header: cursor.position(of: start))
        } else {
            guard cursor.peek() == "]" else {
                throw cursor.error("expected ']' to close the table header, found \(cursor.describe())")
            }
            cursor.advance()
            table = try builder.defineTable(key, header: cursor.position(of: start))
        }
        try cursor.expectLineEnd(after: "the table header")
        return table
    }

    /// `key = value`, added to `table`. Stops right after the value.
    private mutating func parseKeyValue(into table: Int, section: Int) throws(TOMLSyntaxError) {
        let key = try parseKey()
        guard cursor.peek() == "=" else {
            let written = TOMLTableBuilder.display(key[...])
            throw cursor.error("expected '=' after key '\(written)', found \(cursor.describe())")
        }
        cursor.advance()
        cursor.skipWhitespace()
        let value = try parseValue()
        try builder.insert(value, at: key, in: table, section: section)
    }

    /// A simple or dotted key, and the whitespace after it.
    private mutating func parseKey() throws(TOMLSyntaxError) -> [TOMLKeySegment] {
        var segments: [TOMLKeySegment] = []
        while true {
            let start = cursor.index
            let name: String
            switch cursor.peek() {
            case "\""?, "'"?:
                name = try cursor.parseString(allowMultiline: false)
            case let scalar? where TOMLCursor.isBareKeyScalar(scalar):
                var bare = String.UnicodeScalarView()
                while let scalar = cursor.peek(), TOMLCursor.isBareKeyScalar(scalar) {
                    bare.append(scalar)
                    cursor.advance()
                }
                name = String(bare)
            default:
                throw cursor.error("expected a key, found \(cursor.describe())")
            }
            segments.append(TOMLKeySegment(name: name, position: cursor.position(of: start)))
            cursor.skipWhitespace()
            guard cursor.peek() == "." else { return segments }
            cursor.advance()
            cursor.skipWhitespace()
        }
    }

    // MARK: Values

    private mutating func parseValue() throws(TOMLSyntaxError) -> TOMLNode {
        let start = cursor.index
        let position = cursor.position
        let value: TOMLValue
        switch cursor.peek() {
        case "\""?, "'"?:
            value = .string(try cursor.parseString(allowMultiline: true))
        case "["?:
            try enterNesting()
            defer { depth -= 1 }
            value = try parseArray()
        case "{"?:
            try enterNesting()
            defer { depth -= 1 }
            value = .table(try parseInlineTable())
        case "+"?, "-"?, "0"?, "1"?, "2"?, "3"?, "4"?, "5"?, "6"?, "7"?, "8"?, "9"?:
            value = try cursor.parseNumberOrDateTime()
        case let scalar? where TOMLCursor.isBareKeyScalar(scalar):
            var word = String.UnicodeScalarView()
            while let scalar = cursor.peek(), TOMLCursor.isBareKeyScalar(scalar) {
                word.append(scalar)
                cursor.advance()
            }
            switch String(word) {
            case "true": value = .boolean(true)
            case "false": value = .boolean(false)
            case "inf": value = .float(.infinity)
            case "nan": value = .float(.nan)
            case let other:
                throw cursor.error("invalid value '\(other)': strings must be quoted", at: start)
            }
        default:
            throw cursor.error("expected a value, found \(cursor.describe())")
        }
        return TOMLNode(value: value, position: position)
    }

    private mutating func enterNesting() throws(TOMLSyntaxError) {
        guard depth < TOMLDocumentParser.maximumNesting else {
            throw cursor.error("arrays and inline tables are nested more than \(TOMLDocumentParser.maximumNesting) deep")
        }
        depth += 1
    }

    /// `[ v, v, ]`: newlines, comments and a trailing comma are allowed; TOML 1.0 allows mixed
    /// element types.
    private mutating func parseArray() throws(TOMLSyntaxError) -> TOMLValue {
        let start = cursor.index
        cursor.advance()
        var elements: [TOMLNode] = []
        while true {
            try cursor.skipWhitespaceCommentsAndNewlines()
            if cursor.isAtEnd { throw cursor.error("unterminated array: missing ']'", at: start) }
            if cursor.peek() == "]" { break }
            elements.append(try parseValue())
            try cursor.skipWhitespaceCommentsAndNewlines()
            if cursor.peek() == "," {
                cursor.advance()
                continue
            }
            if cursor.peek() == "]" { break }
            if cursor.isAtEnd { throw cursor.error("unterminated array: missing ']'", at: start) }
            throw cursor.error("expected ',' or ']' after an array element, found \(cursor.describe())")
        }
        cursor.advance()
        return .array(elements)
    }

    /// `{ k = v, k.k = v }` on one line, no trailing comma.
    private mutating func parseInlineTable() throws(TOMLSyntaxError) -> TOMLTable {
        let start = cursor.index
        let table = builder.newDetachedTable(at: cursor.position)
        let section = builder.newSection()
        cursor.advance()
        cursor.skipWhitespace()
        if cursor.peek() == "}" {
            cursor.advance()
            return builder.build(table)
        }
        var lastComma: Int?
        while true {
            cursor.skipWhitespace()
            if let comma = lastComma, cursor.peek() == "}" {
                throw cursor.error("trailing comma is not allowed in an inline table", at: comma)
            }
            try rejectInlineTableBreak(start: start)
            try parseKeyValue(into: table, section: section)
            cursor.skipWhitespace()
            if cursor.peek() == "," {
                lastComma = cursor.index
                cursor.advance()
                continue
            }
            if cursor.peek() == "}" { break }
            try rejectInlineTableBreak(start: start)
            throw cursor.error("expected ',' or '}' after an inline table entry, found \(cursor.describe())")
        }
        cursor.advance()
        return builder.build(table)
    }

    /// The usual ways an inline table is written as if it were a multi-line one.
    private func rejectInlineTableBreak(start: Int) throws(TOMLSyntaxError) {
        if cursor.isAtEnd { throw cursor.error("unterminated inline table: missing '}'", at: start) }
        if cursor.isAtNewline { throw cursor.error("newlines are not allowed in an inline table") }
        if cursor.peek() == "#" { throw cursor.error("comments are not allowed in an inline table") }
    }
}
