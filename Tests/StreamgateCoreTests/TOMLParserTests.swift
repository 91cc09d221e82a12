import Testing
@testable import StreamgateCore

// MARK: Helpers

private func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOMLTable? {
    do {
        return try TOMLParser.parse(text)
    } catch {
        Issue.record("unexpected syntax error \(error.position): \(error.message)", sourceLocation: sourceLocation)
        return nil
    }
}

private func syntaxError(_ text: String) -> TOMLSyntaxError? {
    do {
        _ = try TOMLParser.parse(text)
        return nil
    } catch {
        return error
    }
}

/// Asserts that `text` fails at exactly `position` ("line:col") with a message containing `message`.
private func expectError(
    _ text: String, at position: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = syntaxError(text) else {
        Issue.record("expected a syntax error for \(text.debugDescription)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.position.description == position, "message: \(error.message)", sourceLocation: sourceLocation)
    #expect(error.message.contains(message), "got: \(error.message)", sourceLocation: sourceLocation)
}

private func pos(_ line: Int, _ column: Int) -> SourcePosition { SourcePosition(line: line, column: column) }

extension TOMLTable {
    /// Follows a path of keys through nested tables.
    fileprivate func node(_ path: String...) -> TOMLNode? {
        var table = self
        var node: TOMLNode?
        for (offset, key) in path.enumerated() {
            node = table[key]
            if offset < path.count - 1 {
                guard case .table(let inner)? = node?.value else { return nil }
                table = inner
            }
        }
        return node
    }

    fileprivate func value(_ path: String...) -> TOMLValue? {
        var table = self
        for key in path.dropLast() {
            guard case .table(let inner)? = table[key]?.value else { return nil }
            table = inner
        }
        return table[path[path.count - 1]]?.value
    }
}

extension TOMLValue {
    fileprivate var table: TOMLTable? {
        if case .table(let table) = self { return table }
        return nil
    }

    fileprivate var elements: [TOMLNode]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    fileprivate var double: Double? {
        if case .float(let value) = self { return value }
        return nil
    }
}

@Suite struct TOMLParserTests {
    // MARK: Strings

    @Test func basicStringEscapes() {
        let doc = parse(#"s = "tab\there\nq\"uote\\ \b\f\r é \u00E9 \U0001F600""#)
        #expect(doc?.value("s") == .string("tab\there\nq\"uote\\ \u{08}\u{0C}\r é é 😀"))
    }

    @Test func literalStrings() {
        let doc = parse(#"path = 'C:\Users\nodejs\templates'"# + "\n" + #"quoted = 'Tom "Dubs" Preston'"#)
        #expect(doc?.value("path") == .string(#"C:\Users\nodejs\templates"#))
        #expect(doc?.value("quoted") == .string(#"Tom "Dubs" Preston"#))
    }

    @Test func multilineBasicString() {
        let text = "s = \"\"\"\nRoses are red\r\nViolets are blue\"\"\"\n"
            + "t = \"\"\"\\\n    The quick \\\n\n   brown \\   \n  fox.\\\n  \"\"\"\n"
            + "u = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
            + "v = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
            + "w = \"\"\"a\\tb \\u0041\"\"\"\n"
        let doc = parse(text)
        #expect(doc?.value("s") == .string("Roses are red\nViolets are blue"))
        #expect(doc?.value("t") == .string("The quick brown fox."))
        #expect(doc?.value("u") == .string("Here are two quotation marks: \"\". Simple enough."))
        #expect(doc?.value("v") == .string("\"This,\" she said, \"is just a pointless statement.\""))
        #expect(doc?.value("w") == .string("a\tb A"))
    }

    @Test func multilineLiteralString() {
        let text = "re = '''I [dw]on't need \\d{2} apples'''\n"
            + "lines = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n"
            + "quotes = '''''That,' she said, 'is still pointless.'''''\n"
        let doc = parse(text)
        #expect(doc?.value("re") == .string(#"I [dw]on't need \d{2} apples"#))
        #expect(doc?.value("lines") == .string("The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n"))
        #expect(doc?.value("quotes") == .string("''That,' she said, 'is still pointless.''"))
    }

    // MARK: Numbers, booleans, date-times

    @Test func integers() {
        let text = """
            a = +99
            b = 42
            c = 0
            d = -17
            e = 1_000
            f = 5_349_221
            g = 0xDEAD_beef
            h = 0o755
            i = 0b1101_0110
            j = 9223372036854775807
            k = -9223372036854775808
            l = +0
            m = -0
            n = 0x7FFFFFFFFFFFFFFF
            """
        let doc = parse(text)
        let expected: [(String, Int64)] = [
            ("a", 99), ("b", 42), ("c", 0), ("d", -17), ("e", 1000), ("f", 5_349_221), ("g", 0xDEADBEEF),
            ("h", 0o755), ("i", 0b1101_0110), ("j", .max), ("k", .min), ("l", 0), ("m", 0), ("n", .max),
        ]
        for (key, value) in expected {
            #expect(doc?.value(key) == .integer(value), "\(key)")
        }
    }

    @Test func floats() {
        let text = """
            a = +1.0
            b = 3.1415
            c = -0.01
            d = 5e+22
            e = 1e06
            f = -2E-2
            g = 6.626e-34
            h = 224_617.445_991_228
            i = 0.0
            j = 0e0
            k = 1_0e1_0
            """
        let doc = parse(text)
        let expected: [(String, Double)] = [
            ("a", 1.0), ("b", 3.1415), ("c", -0.01), ("d", 5e22), ("e", 1e6), ("f", -2e-2), ("g", 6.626e-34),
            ("h", 224_617.445_991_228), ("i", 0), ("j", 0), ("k", 10e10),
        ]
        for (key, value) in expected {
            #expect(doc?.value(key) == .float(value), "\(key)")
        }
    }

    @Test func specialFloats() {
        let doc = parse("a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\ng = [inf, nan]\n")
        #expect(doc?.value("a") == .float(.infinity))
        #expect(doc?.value("b") == .float(.infinity))
        #expect(doc?.value("c") == .float(-.infinity))
        for key in ["d", "e", "f"] {
            #expect(doc?.value(key)?.double?.isNaN == true, "\(key)")
        }
        #expect(doc?.value("g")?.elements?.count == 2)
    }

    @Test func booleans() {
        let doc = parse("t = true\nf = false\n")
        #expect(doc?.value("t") == .boolean(true))
        #expect(doc?.value("f") == .boolean(false))
    }

    @Test func dateTimesKeepTheirSourceText() {
        let samples = [
            "1979-05-27T07:32:00Z", "1979-05-27T00:32:00-07:00", "1979-05-27T00:32:00.999999-07:00",
            "1979-05-27 07:32:00Z", "1979-05-27t07:32:00z", "1979-05-27T07:32:00", "1979-05-27T00:32:00.999999",
            "1979-05-27", "07:32:00", "00:32:00.999999", "2000-02-29", "2024-02-29", "1990-12-31T23:59:60Z",
        ]
        for sample in samples {
            let doc = parse("d = \(sample) # comment")
            #expect(doc?.value("d") == .datetime(sample))
        }
    }

    // MARK: Keys

    @Test func keyForms() {
        let text = """
            bare_key-1 = 1
            1234 = 2
            "127.0.0.1" = 3
            "ʎǝʞ" = 4
            'quoted "value"' = 5
            "" = 6
            physical.color = "orange"
            site . "google.com" = true
            3.14159 = "pi"
            "a\\tb" = 7
            """
        let doc = parse(text)
        #expect(doc?.entries.map(\.key) == ["bare_key-1", "1234", "127.0.0.1", "ʎǝʞ", "quoted \"value\"", "", "physical", "site", "3", "a\tb"])
        #expect(doc?.value("physical", "color") == .string("orange"))
        #expect(doc?.value("site", "google.com") == .boolean(true))
        #expect(doc?.value("3", "14159") == .string("pi"))
        #expect(doc?.value("") == .integer(6))
    }

    // MARK: Arrays and inline tables

    @Test func arrays() {
        let text = """
            empty = []
            ints = [ 1, 2, 3, ]
            mixed = [ 0.1, "x", [1, 2], { a = 1 }, 1979-05-27 ]
            multiline = [
              "a", # first
              # a whole-line comment
              "b"
              ,
            ]
            nested = [[1], [[2]]]
            """
        let doc = parse(text)
        #expect(doc?.value("empty") == .array([]))
        #expect(doc?.value("ints")?.elements?.map(\.value) == [.integer(1), .integer(2), .integer(3)])
        let mixed = doc?.value("mixed")?.elements?.map(\.value.typeName)
        #expect(mixed == ["float", "string", "array", "table", "datetime"])
        #expect(doc?.value("multiline")?.elements?.map(\.value) == [.string("a"), .string("b")])
        #expect(doc?.value("nested")?.elements?.count == 2)
    }

    @Test func inlineTables() {
        let doc = parse(#"point = { x = 1, y = 2, nested.deep = "z", in = { a = [1, 2] } }"# + "\nempty = {}\n")
        #expect(doc?.value("point", "x") == .integer(1))
        #expect(doc?.value("point", "nested", "deep") == .string("z"))
        #expect(doc?.value("point", "in", "a")?.elements?.count == 2)
        #expect(doc?.value("empty") == .table(TOMLTable(entries: [], position: pos(2, 9))))
    }

    @Test func inlineTableMayHoldMultilineArray() {
        let doc = parse("t = { a = [\n  1,\n  2,\n] }\n")
        #expect(doc?.value("t", "a")?.elements?.count == 2)
    }

    // MARK: Tables

    @Test func tablesAndSubtables() {
        let text = """
            title = "root"

            [owner]
            name = "Tom"

            [a.b.c]
            x = 1

            [a]
            y = 2

            [ j . "ʞ" . 'l' ]
            z = 3
            """
        let doc = parse(text)
        #expect(doc?.entries.map(\.key) == ["title", "owner", "a", "j"])
        #expect(doc?.value("owner", "name") == .string("Tom"))
        #expect(doc?.value("a", "b", "c", "x") == .integer(1))
        #expect(doc?.value("a", "y") == .integer(2))
        #expect(doc?.value("j", "ʞ", "l", "z") == .integer(3))
    }

    @Test func dottedKeysCreateTablesAndHeadersMayAddSubtables() {
        let text = """
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true

            [fruit.apple.texture]
            smooth = true
            """
        let doc = parse(text)
        #expect(doc?.value("fruit", "apple", "color") == .string("red"))
        #expect(doc?.value("fruit", "apple", "taste", "sweet") == .boolean(true))
        #expect(doc?.value("fruit", "apple", "texture", "smooth") == .boolean(true))
    }

    @Test func dottedKeysMayFillTablesThatHeadersOnlyImplied() {
        let doc = parse("[a.b.c]\nx = 1\n[a]\nb.y = 2\n")
        #expect(doc?.value("a", "b", "c", "x") == .integer(1))
        #expect(doc?.value("a", "b", "y") == .integer(2))
    }

    @Test func arraysOfTables() {
        let text = """
            [[fruits]]
            name = "apple"

            [fruits.physical]
            color = "red"

            [[fruits.varieties]]
            name = "red delicious"

            [[fruits.varieties]]
            name = "granny smith"

            [[fruits]]
            name = "banana"

            [[fruits.varieties]]
            name = "plantain"
            """
        let doc = parse(text)
        let fruits = doc?.value("fruits")?.elements
        #expect(fruits?.count == 2)
        let apple = fruits?.first?.value.table
        #expect(apple?.value("name") == .string("apple"))
        #expect(apple?.value("physical", "color") == .string("red"))
        #expect(apple?.value("varieties")?.elements?.map { $0.value.table?.value("name") } == [.string("red delicious"), .string("granny smith")])
        let banana = fruits?.last?.value.table
        #expect(banana?.value("varieties")?.elements?.count == 1)
        // Positions: the array at its first header, each element at its own header.
        #expect(doc?.node("fruits")?.position == pos(1, 1))
        #expect(doc?.entry("fruits")?.keyPosition == pos(1, 3))
        #expect(fruits?.map(\.position) == [pos(1, 1), pos(13, 1)])
        #expect(apple?.node("varieties")?.value.elements?.map(\.position) == [pos(7, 1), pos(10, 1)])
        #expect(apple?.entry("varieties")?.keyPosition == pos(7, 10))
    }

    @Test func whitespaceCommentsAndLineEndings() {
        let text = "\u{FEFF}# header comment\r\n\r\n  \ta = 1 # trailing\r\n\t[t] # c\r\n b = 'x'\r\n# end"
        let doc = parse(text)
        #expect(doc?.value("a") == .integer(1))
        #expect(doc?.value("t", "b") == .string("x"))
        #expect(doc?.entry("a")?.keyPosition == pos(3, 4))
        #expect(doc?.node("t", "b")?.position == pos(5, 6))
    }

    @Test func emptyDocument() {
        #expect(parse("") == TOMLTable())
        #expect(parse("# only a comment\n\n") == TOMLTable())
    }

    // MARK: Positions

    @Test func keyAndValuePositions() {
        let text = """
            # comment
            name = "x"
              port   =   8080
            [server.tls]
            "é😀" = "v" ; = 1
            """
        // The ";" makes the document invalid; check positions on the valid prefix first.
        let doc = parse(String(text.split(separator: "\n").prefix(4).joined(separator: "\n")))
        #expect(doc?.position == pos(1, 1))
        #expect(doc?.entry("name")?.keyPosition == pos(2, 1))
        #expect(doc?.node("name")?.position == pos(2, 8))
        #expect(doc?.entry("port")?.keyPosition == pos(3, 3))
        #expect(doc?.node("port")?.position == pos(3, 14))
        // `server` is implied by the header: positioned where it was first written.
        #expect(doc?.entry("server")?.keyPosition == pos(4, 2))
        #expect(doc?.node("server")?.position == pos(4, 2))
        #expect(doc?.node("server", "tls")?.position == pos(4, 1))
        #expect(doc?.node("server", "tls")?.value.table?.position == pos(4, 1))
        #expect(doc?.node("server")?.value.table?.entry("tls")?.keyPosition == pos(4, 9))
        // Columns count Unicode scalars: "é😀" is 2 scalars plus 2 quotes.
        expectError(text, at: "5:12", "expected a newline after the value, found ';'")
    }

    @Test func nestedValuePositions() {
        let text = "a = [1, { b = 'x', c.d = 2 }, [ true ]]\nt = { k = 1979-05-27 }"
        let doc = parse(text)
        let elements = doc?.value("a")?.elements
        #expect(doc?.node("a")?.position == pos(1, 5))
        #expect(elements?.map(\.position) == [pos(1, 6), pos(1, 9), pos(1, 31)])
        let inline = elements?[1].value.table
        #expect(inline?.position == pos(1, 9))
        #expect(inline?.entry("b")?.keyPosition == pos(1, 11))
        #expect(inline?.node("b")?.position == pos(1, 15))
        #expect(inline?.node("c")?.position == pos(1, 20))
        #expect(inline?.node("c", "d")?.position == pos(1, 26))
        #expect(inline?.node("c")?.value.table?.entry("d")?.keyPosition == pos(1, 22))
        #expect(elements?[2].value.elements?.first?.position == pos(1, 33))
        #expect(doc?.node("t", "k")?.position == pos(2, 11))
    }

    @Test func implicitTablePositionIsWhereFirstImplied() {
        let doc = parse("a.b.c = 1\n[x.y]\n[x]\nk = 2\n")
        #expect(doc?.node("a")?.position == pos(1, 1))
        #expect(doc?.node("a", "b")?.position == pos(1, 3))
        #expect(doc?.node("a", "b", "c")?.position == pos(1, 9))
        // Defined explicitly later: from then on positioned at its own header.
        #expect(doc?.node("x")?.position == pos(3, 1))
        #expect(doc?.entry("x")?.keyPosition == pos(3, 2))
        #expect(doc?.node("x", "y")?.position == pos(2, 1))
    }

    // MARK: Errors: tables and keys

    @Test func duplicateKeys() {
        expectError("x = 1\nx = 2", at: "2:1", "duplicate key 'x' (first defined at 1:1)")
        expectError("a.b = 1\na.b = 2", at: "2:3", "duplicate key 'a.b' (first defined at 1:3)")
        expectError("\"x\" = 1\n'x' = 2", at: "2:1", "duplicate key 'x' (first defined at 1:1)")
        expectError("[t]\n\"a b\" = 1\n  \"a b\" = 2", at: "3:3", #"duplicate key '"a b"' (first defined at 2:1)"#)
        expectError("a = { b = 1, b = 2 }", at: "1:14", "duplicate key 'b' (first defined at 1:7)")
        expectError("[a.b]\n[a]\nb = 1", at: "3:1", "duplicate key 'b' (first defined at 1:4)")
    }

    @Test func redefinedTables() {
        expectError("[a]\nx = 1\n[a]", at: "3:2", "duplicate table [a] (first defined at 1:1)")
        expectError("[a.b]\n[a]\n[a]", at: "3:2", "duplicate table [a] (first defined at 2:1)")
        expectError("[a]\n[b]\n[a.c]\n[ a . c ]", at: "4:7", "duplicate table [a.c] (first defined at 3:1)")
        expectError("a.b = 1\n[a]", at: "2:2", "table [a] is already defined by dotted keys at 1:1")
        expectError("[a]\nb.c = 1\n[a.b]", at: "3:4", "table [a.b] is already defined by dotted keys at 2:1")
        expectError("[[a]]\n[a]", at: "2:2", "table [a] is already defined as an array of tables at 1:1")
        expectError("[a]\n[[a]]", at: "2:3", "cannot define [[a]] as an array of tables: 'a' is already a table (defined at 1:1)")
        expectError("a = 1\n[a]", at: "2:2", "key 'a' is already defined as integer at 1:1, not a table")
        expectError("a = 1\n[a.b]", at: "2:2", "key 'a' is already defined as integer at 1:1, not a table")
        expectError("a = 'x'\na.b = 1", at: "2:1", "key 'a' is already defined as string at 1:1, not a table")
    }

    @Test func dottedKeysCannotReachIntoHeaderTables() {
        expectError("[a.b]\n[a]\nb.c = 1", at: "3:1", "cannot add keys to table 'b' with dotted keys: it is defined by a table header at 1:1")
        expectError("[[a.b]]\n[a]\nb.c = 1", at: "3:1", "cannot add keys to array of tables 'b' with dotted keys (defined at 1:1)")
    }

    @Test func staticArraysCannotBeExtended() {
        expectError("a = []\n[[a]]", at: "2:3", "cannot append to static array 'a' (defined at 1:1)")
        expectError("a = [{ b = 1 }]\n[a.c]", at: "2:2", "cannot extend static array 'a' (defined at 1:5)")
        expectError("x.a = [1]\n[[x.a]]", at: "2:5", "cannot append to static array 'x.a' (defined at 1:3)")
    }

    @Test func inlineTablesCannotBeExtended() {
        expectError("a = { b = 1 }\n[a.c]", at: "2:2", "cannot extend inline table 'a' (defined at 1:5)")
        expectError("a = { b = 1 }\na.c = 2", at: "2:1", "cannot extend inline table 'a' (defined at 1:5)")
        expectError("a = {}\n[a]", at: "2:2", "cannot extend inline table 'a' (defined at 1:5)")
        expectError("a = { b = { c = 1 }, b.d = 2 }", at: "1:22", "cannot extend inline table 'b' (defined at 1:11)")
        expectError("a = {}\n[[a]]", at: "2:3", "cannot extend inline table 'a' (defined at 1:5)")
    }

    @Test func nonASCIIInErrorsIsNamedByCodePoint() {
        expectError("μ = 1", at: "1:1", "expected a key, found 'μ' (U+03BC)")
        expectError("a =\u{00A0}1", at: "1:4", "expected a value, found U+00A0")
        expectError("a = 1\n\u{FEFF}b = 2", at: "2:1", "expected a key, found U+FEFF")
    }

    @Test func keySyntaxErrors() {
        expectError("= 1", at: "1:1", "expected a key, found '='")
        expectError("a. = 1", at: "1:4", "expected a key, found '='")
        expectError("a 1", at: "1:3", "expected '=' after key 'a', found '1'")
        expectError("a.b\n", at: "1:4", "expected '=' after key 'a.b', found newline")
        expectError("a", at: "1:2", "expected '=' after key 'a', found end of file")
        expectError("a b = 1", at: "1:3", "expected '=' after key 'a', found 'b'")
        expectError("a$ = 1", at: "1:2", "expected '=' after key 'a', found '$'")
        expectError("\"\"\"a\"\"\" = 1", at: "1:1", "a key cannot be a multi-line string")
        expectError("\"a\nb\" = 1", at: "1:1", "unterminated string")
    }

    @Test func missingValues() {
        expectError("a =\n", at: "1:4", "expected a value, found newline")
        expectError("a = ", at: "1:5", "expected a value, found end of file")
        expectError("a = # c", at: "1:5", "expected a value, found '#'")
        expectError("workers = auto", at: "1:11", "invalid value 'auto': strings must be quoted")
        expectError("a = True", at: "1:5", "invalid value 'True': strings must be quoted")
        expectError("a = .5", at: "1:5", "expected a value, found '.'")
    }

    @Test func trailingGarbage() {
        expectError("a = 1 2", at: "1:7", "expected a newline after the value, found '2'")
        expectError("a = \"x\"y", at: "1:8", "expected a newline after the value, found 'y'")
        expectError("a = true false", at: "1:10", "expected a newline after the value, found 'f'")
        expectError("a = [1] ]", at: "1:9", "expected a newline after the value, found ']'")
        expectError("a = \"\"\"x\"\"\"\"\"\"", at: "1:14", "expected a newline after the value, found '\"'")
        expectError("[a] b = 1", at: "1:5", "expected a newline after the table header, found 'b'")
        expectError("a = 1\r", at: "1:6", "found carriage return")
    }

    @Test func headerSyntaxErrors() {
        expectError("[a", at: "1:3", "expected ']' to close the table header, found end of file")
        expectError("[a\n]", at: "1:3", "expected ']' to close the table header, found newline")
        expectError("[]", at: "1:2", "expected a key, found ']'")
        expectError("[a.]", at: "1:4", "expected a key, found ']'")
        expectError("[[a]", at: "1:5", "expected ']]' to close the array of tables header, found end of file")
        expectError("[[a] ]", at: "1:5", "expected ']]' to close the array of tables header, found ' '")
        expectError("[[a]\n", at: "1:5", "found newline")
        expectError("[[a b]]", at: "1:5", "expected ']]' to close the array of tables header, found 'b'")
        expectError("[ [a]]", at: "1:3", "expected a key, found '['")
    }

    // MARK: Errors: strings

    @Test func invalidEscapes() {
        expectError(#"s = "a\qb""#, at: "1:7", #"invalid escape sequence '\q'"#)
        expectError(#"s = "\x41""#, at: "1:6", #"invalid escape sequence '\x'"#)
        expectError(#"s = "a\ b""#, at: "1:7", #"invalid escape sequence '\ '"#)
        expectError(#"s = "\u12G4""#, at: "1:6", #"'\u' needs exactly 4 hex digits"#)
        expectError(#"s = "\U0001F60""#, at: "1:6", #"'\U' needs exactly 8 hex digits"#)
        expectError(#"s = "\uD800""#, at: "1:6", "D800 is not a Unicode scalar value")
        expectError(#"s = "\U00110000""#, at: "1:6", "110000 is not a Unicode scalar value")
        expectError("s = \"\"\"\n  ok \\q\"\"\"", at: "2:6", #"invalid escape sequence '\q'"#)
        expectError("s = \"a\\\nb\"", at: "1:7", "invalid escape sequence: '\\' followed by newline")
    }

    @Test func unterminatedStrings() {
        expectError("s = \"abc", at: "1:5", "unterminated string: missing closing \"")
        expectError("s = \"abc\ndef\"", at: "1:5", "unterminated string")
        expectError("s = 'abc\n'", at: "1:5", "unterminated string: missing closing '")
        expectError("a = 1\ns = \"\"\"abc\n\n", at: "2:5", "unterminated multi-line string: missing closing \"\"\"")
        expectError("s = '''abc''", at: "1:5", "unterminated multi-line string: missing closing '''")
        expectError("s = \"\\", at: "1:6", "invalid escape sequence: '\\' followed by end of file")
    }

    @Test func controlCharacters() {
        expectError("s = \"a\u{01}b\"", at: "1:7", "control character U+0001 is not allowed in a string; use an escape sequence")
        expectError("s = 'a\u{7F}'", at: "1:7", "control character U+007F is not allowed in a string")
        expectError("s = \"\"\"a\u{00}\"\"\"", at: "1:9", "control character U+0000")
        expectError("s = \"\"\"a\rb\"\"\"", at: "1:9", "control character U+000D")
        expectError("a = 1 # bell\u{07}", at: "1:13", "U+0007 is not allowed in a comment")
        expectError("# x\ry\n", at: "1:4", "carriage return is not allowed in a comment")
        expectError("a = \u{0C}1", at: "1:5", "expected a value, found U+000C")
    }

    // MARK: Errors: numbers and date-times

    @Test func badNumbers() {
        expectError("n = 01", at: "1:5", "leading zeros are not allowed")
        expectError("n = -012", at: "1:6", "leading zeros are not allowed")
        expectError("n = 00.5", at: "1:5", "leading zeros are not allowed")
        expectError("n = 0_1", at: "1:5", "leading zeros are not allowed")
        expectError("n = 1__2", at: "1:6", "'_' in a number must be between two digits")
        expectError("n = 1_", at: "1:6", "'_' in a number must be between two digits")
        expectError("n = 1_.5", at: "1:6", "'_' in a number must be between two digits")
        expectError("n = 1._5", at: "1:7", "expected a digit in number, found '_'")
        expectError("n = 1.", at: "1:7", "expected a digit in number, found end of number")
        expectError("n = 1.e5", at: "1:7", "expected a digit in number, found 'e'")
        expectError("n = 1e", at: "1:7", "expected a digit in number, found end of number")
        expectError("n = 1e+", at: "1:8", "expected a digit in number")
        expectError("n = 1.5.3", at: "1:8", "invalid character '.' in number")
        expectError("n = 12a", at: "1:7", "invalid character 'a' in number")
        expectError("n = +", at: "1:6", "expected a digit in number")
        expectError("n = +_1", at: "1:6", "expected a digit in number, found '_'")
        expectError("n = +0x1F", at: "1:5", "a hexadecimal integer cannot have a sign")
        expectError("n = -0b1", at: "1:5", "a binary integer cannot have a sign")
        expectError("n = 0x", at: "1:7", "expected a digit in number, found end of number")
        expectError("n = 0xG1", at: "1:7", "expected a digit in number, found 'G'")
        expectError("n = 0o8", at: "1:7", "expected a digit in number, found '8'")
        expectError("n = 0b102", at: "1:9", "invalid character '2' in number")
        expectError("n = 0X1F", at: "1:6", "invalid character 'X' in number")
        expectError("n = 9223372036854775808", at: "1:5", "integer 9223372036854775808 does not fit in 64 bits")
        expectError("n = -9223372036854775809", at: "1:5", "does not fit in 64 bits")
        expectError("n = 0x8000000000000000", at: "1:5", "does not fit in 64 bits")
        expectError("n = 1e400", at: "1:5", "float 1e400 is out of range")
        expectError("n = [1, 2x]", at: "1:10", "invalid character 'x' in number")
    }

    @Test func badDateTimes() {
        expectError("d = 1979-13-01", at: "1:5", "invalid date-time '1979-13-01': month must be 01-12")
        expectError("d = 1979-00-01", at: "1:5", "month must be 01-12")
        expectError("d = 2001-02-29", at: "1:5", "day 29 does not exist in that month")
        expectError("d = 1900-02-29", at: "1:5", "day 29 does not exist in that month")
        expectError("d = 1979-04-31", at: "1:5", "day 31 does not exist")
        expectError("d = 1979-05-00", at: "1:5", "day 0 does not exist")
        expectError("d = 1979-5-27", at: "1:5", "expected YYYY-MM-DD")
        expectError("d = 07:32", at: "1:5", "seconds are required")
        expectError("d = 24:00:00", at: "1:5", "hour must be 00-23")
        expectError("d = 1979-05-27T07:60:00", at: "1:5", "minute must be 00-59")
        expectError("d = 1979-05-27T07:32:61", at: "1:5", "second must be 00-60")
        expectError("d = 1979-05-27T07:32:00.", at: "1:5", "expected digits after '.'")
        expectError("d = 1979-05-27T07:32:00+7", at: "1:5", "offset must be Z or +HH:MM")
        expectError("d = 1979-05-27T07:32:00+07:00Z", at: "1:5", "after the offset")
        expectError("d = 1979-05-27X07:32:00", at: "1:5", "expected 'T' or a space")
        expectError("d = 1979-05-27 07:32", at: "1:5", "seconds are required")
        expectError("d = 1979-05-27 x", at: "1:16", "expected a newline after the value, found 'x'")
    }

    // MARK: Errors: arrays and inline tables

    @Test func arraySyntaxErrors() {
        expectError("a = [1 2]", at: "1:8", "expected ',' or ']' after an array element, found '2'")
        expectError("a = [1,,2]", at: "1:8", "expected a value, found ','")
        expectError("a = [,]", at: "1:6", "expected a value, found ','")
        expectError("a = [1,", at: "1:5", "unterminated array: missing ']'")
        expectError("x = 1\na = [\n  1,\n  # c\n", at: "2:5", "unterminated array: missing ']'")
        expectError("a = [1 # c\n 2]", at: "2:2", "expected ',' or ']' after an array element, found '2'")
    }

    @Test func inlineTableSyntaxErrors() {
        expectError("a = { b = 1, }", at: "1:12", "trailing comma is not allowed in an inline table")
        expectError("a = { b = 1\n}", at: "1:12", "newlines are not allowed in an inline table")
        expectError("a = {\n b = 1 }", at: "1:6", "newlines are not allowed in an inline table")
        expectError("a = { b = 1,\n c = 2 }", at: "1:13", "newlines are not allowed in an inline table")
        expectError("a = { # c\n}", at: "1:7", "comments are not allowed in an inline table")
        expectError("a = { b = 1", at: "1:5", "unterminated inline table: missing '}'")
        expectError("a = { b = 1 c = 2 }", at: "1:13", "expected ',' or '}' after an inline table entry, found 'c'")
        expectError("a = { b }", at: "1:9", "expected '=' after key 'b', found '}'")
        expectError("a = { , }", at: "1:7", "expected a key, found ','")
    }

    @Test func reportsTheFirstError() {
        expectError("a = 1\nb = \nc = 01\n", at: "2:5", "expected a value")
    }

    @Test func nestingIsBounded() {
        let limit = TOMLDocumentParser.maximumNesting
        let deepest = "a = " + String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(parse(deepest) != nil)
        let tooDeep = "a = " + String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        expectError(tooDeep, at: "1:\(4 + limit + 1)", "nested more than \(limit) deep")
        expectError("a = " + String(repeating: "{ b = ", count: limit + 1), at: "1:\(5 + 6 * limit)", "nested more than")
    }

    @Test func yearZeroIsRejected() {
        expectError("d = 0000-12-31", at: "1:5", "year must be 0001-9999")
    }

    // MARK: Tricky but valid documents

    @Test func commentsInTrickyPlaces() {
        let text = ####"""
            [section]#attached comment
            #[notsection]
            one = "11"#cmt
            two = "22#"
            three = '#'

            four = """# no comment
            # nor this
            #also not comment"""#is_comment

            five = 5.5#66
            six = 6#7
            8 = "eight"
            #nine = 99
            ten = 10e2#1
            eleven = 1.11e1#23

            ["hash#tag"]
            "#!" = "hash bang"
            arr3 = [ "#", '#', """###""" ]
            arr4 = [ 1,# 9, 9,
            2#,9
            ,#9
            3#]
            ,4]
            arr5 = [[[[#["#"],
            ["#"]]]]#]
            ]
            tbl1 = { "#" = '}#'}#}}
            inf=inf#infinity
            t=true#true
            """####
        let doc = parse(text)
        #expect(doc?.value("section")?.table?.entries.map(\.key) == ["one", "two", "three", "four", "five", "six", "8", "ten", "eleven"])
        #expect(doc?.value("section", "four") == .string("# no comment\n# nor this\n#also not comment"))
        #expect(doc?.value("section", "ten") == .float(1000))
        #expect(doc?.value("hash#tag", "arr4")?.elements?.map(\.value) == [.integer(1), .integer(2), .integer(3), .integer(4)])
        #expect(doc?.value("hash#tag", "tbl1", "#") == .string("}#"))
        #expect(doc?.value("hash#tag", "inf") == .float(.infinity))
        #expect(doc?.value("hash#tag", "t") == .boolean(true))
    }

    @Test func trickyEscapesAndQuotes() {
        let text = ##"""
            end_esc = "String does not end here\" but ends here\\"
            lit_end_esc = 'String ends here\'
            multiline_not_unicode = """
            \\u0041"""
            multiline_end_esc = """When will it end? \"""...""\" should be here\""""
            lit_multiline_end = '''There is no escape\'''
            """##
        let doc = parse(text)
        #expect(doc?.value("end_esc") == .string(#"String does not end here" but ends here\"#))
        #expect(doc?.value("lit_end_esc") == .string(#"String ends here\"#))
        #expect(doc?.value("multiline_not_unicode") == .string(#"\u0041"#))
        #expect(doc?.value("multiline_end_esc") == .string(#"When will it end? """...""" should be here""#))
        #expect(doc?.value("lit_multiline_end") == .string(#"There is no escape\"#))
    }

    @Test func tablesMixingHeadersAndDottedKeys() {
        let text = """
            a.x = 1
            [a.c]
            y = 2
            [tbl]
            a.b.c = { d.e = 1 }
            [tbl.x]
            a.b.c = { d.e = 1 }
            [[arr]]
            a.b.c = 1
            a.b.d = 2
            [[arr]]
            a.b.c = 3
            [[p.arr]]
            [[p.arr]]
            [p]
            not-arr = 1
            """
        let doc = parse(text)
        #expect(doc?.value("a")?.table?.entries.map(\.key) == ["x", "c"])
        #expect(doc?.value("tbl", "a", "b", "c", "d", "e") == .integer(1))
        #expect(doc?.value("tbl", "x", "a", "b", "c", "d", "e") == .integer(1))
        #expect(doc?.value("arr")?.elements?.map { $0.value.table?.value("a", "b", "c") } == [.integer(1), .integer(3)])
        #expect(doc?.value("p", "arr")?.elements?.count == 2)
        #expect(doc?.value("p", "not-arr") == .integer(1))
    }

    /// Invalid documents in the style of toml-test: each must be rejected (positions are
    /// covered by the tests above).
    @Test(arguments: [
        "[a.b.c]\n  z = 9\n[a]\n  b.c.t = 1",
        "[a.b.c.d]\n  z = 9\n[a]\n  b.c.d.k.t = 1",
        "[[albums.songs]]\nname = 'x'\n[[albums]]",
        "[fruit]\napple.color = 'red'\n[fruit.apple]",
        "[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]",
        "[fruit]\napple.color = 'red'\n[[fruit.apple]]",
        "[[tab.arr]]\n[tab]\narr.val1 = 1",
        "[[parent-table.arr]]\n[parent-table]\nnot-arr = 1\narr = 2",
        "[t1]\nt2.t3.v = 0\n[t1.t2]",
        "a.b = 0\na = {}",
        "tbl = { fruit = { apple.color = 'red' }, fruit.apple.texture = { smooth = true } }",
        "a = [{ b = 1 }]\n[a.c]\nfoo = 1",
        "[naughty..naughty]", "[invalid key]", "[key#group]", "[ [table]]", "[[table] ]", "[a]b = 1",
        "[[agencies]] owner = 'S'", "key\n= 1", "\"\"\"long\nkey\"\"\" = 1", "key= = 1", "a==1", "a=b=1", ".key = 1",
        "fs.", "fs.fw", "fs.fw =", "a# = 1", "partial\"quoted\" = 5", "μ = 'mu'", "\\u00c0 = 'latin'",
        "a = falsify", "a = tru", "a = FALSE", "a = inf_1", "a = +inf_1", "a = in", "a = NaN", "a = +NaN",
        "a = 1e2.3", "a = 1e.2", "a = -.12345", "a = 1_.0", "a = 1e_23", "a = 1e23_", "a = 0..1", "a = 1ee2",
        "a = 03.14", "a = +03.14", "a = ++99", "a = --99", "a = 0x_1", "a = 0o1_", "a = _0b1", "a = 0xaafz",
        "a = 0o778", "a = 0B0", "a = 1987-7-05T17:45:00Z", "a = 1987-07-0517:45:00Z", "a = 1987-07-05T17:45:0Z",
        "a = 1987-07-05T", "a = 0:00:00", "a = 1987-07-05T17:45Z",
        "array = [\n  'Entry 1',\n  I don't belong,\n]", "x = [{ key = 42", "x = [{ key = 42 #", "t = {,}",
        "t = {a = 1,,b = 2}", "a = 'first' 'second'", "bad = \"test'", "m = \"\"\"a \"\"\".\"\"\"",
        "a = '''6 apostrophes: ''''''", "a = \"\"\"6 quotes: \"\"\"\"\"\"", "a = \"\"\"\n  foo \\ bar\"\"\"",
        "a = \"\"\"\nhee \\\n\ngee \\   \"\"\"", "a = \"\\xAg\"", "a = \"\\/\"", "a = \"\\u00\"", "a = \"\\UFFFFFFFF\"",
        "a = 'b' \u{00}", "a = \"\u{08}\"", "a = 1\n\u{FEFF}b = 2", "a = { b = 1 }\na.b = 2",
    ])
    func rejects(_ text: String) {
        #expect(syntaxError(text) != nil, "accepted \(text.debugDescription)")
    }

    // MARK: Robustness

    /// Every prefix of a real document, and thousands of single-character mutations of it,
    /// must parse or fail with a position inside the document: never trap, never hang.
    @Test func survivesTruncationAndMutation() {
        let scalars = Array(configContract.unicodeScalars)
        let lineCount = scalars.filter { $0 == "\n" }.count + 1
        func check(_ candidate: [Unicode.Scalar]) {
            var text = String.UnicodeScalarView()
            text.append(contentsOf: candidate)
            guard let error = syntaxError(String(text)) else { return }
            #expect((1...lineCount + 1).contains(error.position.line), "\(error)")
            #expect(error.position.column >= 1, "\(error)")
            #expect(!error.message.isEmpty)
        }
        for end in stride(from: 0, through: scalars.count, by: 11) {
            check(Array(scalars[..<end]))
        }
        let alphabet: [Unicode.Scalar] = [
            "[", "]", "{", "}", "\"", "'", "=", ".", ",", "#", "\\", "\n", "\r", " ", "\t", "0", "9", "e", "_",
            "+", "-", ":", "T", "Z", "x", "\u{0}", "\u{7F}", "é",
        ]
        // A fixed linear congruential generator keeps failures reproducible.
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<2000 {
            var mutated = scalars
            let at = next(mutated.count)
            switch next(3) {
            case 0: mutated.remove(at: at)
            case 1: mutated.insert(alphabet[next(alphabet.count)], at: at)
            default: mutated[at] = alphabet[next(alphabet.count)]
            }
            check(mutated)
        }
    }

    // MARK: A realistic gateway config

    @Test func parsesTheConfigContract() throws {
        let doc = try #require(parse(configContract))
        #expect(doc.entries.map(\.key) == [
            "gateway", "listeners", "admin", "redis", "sessions", "auth", "identity", "upstreams", "routes",
        ])
        #expect(doc.value("gateway", "workers") == .string("auto"))
        #expect(doc.node("gateway", "workers")?.position == pos(8, 11))
        #expect(doc.value("gateway")?.table?.entry("drain_timeout")?.keyPosition == pos(9, 1))
        #expect(doc.node("gateway")?.position == pos(7, 1))

        let listeners = try #require(doc.value("listeners")?.elements)
        #expect(listeners.count == 1)
        #expect(listeners[0].position == pos(11, 1))
        #expect(listeners[0].value.table?.value("address") == .string("127.0.0.1:8080"))
        #expect(listeners[0].value.table?.entries.count == 1)

        #expect(doc.value("redis", "url") == .string("redis://127.0.0.1:6379/0"))
        #expect(doc.value("sessions", "cache_size") == .integer(100_000))
        #expect(doc.value("sessions", "fields", "origins") == .string("allowed_origins"))
        #expect(doc.node("sessions", "fields")?.position == pos(32, 1))
        #expect(doc.value("identity")?.table?.entries.map(\.key) == ["user_header", "tenant_header", "scopes_header"])

        // `upstreams` is only implied by `[upstreams.events]`.
        #expect(doc.node("upstreams")?.position == pos(50, 2))
        #expect(doc.node("upstreams", "events")?.position == pos(50, 1))
        #expect(doc.value("upstreams", "events", "targets") == .array([TOMLNode(value: .string("127.0.0.1:9000"), position: pos(51, 12))]))

        let routes = try #require(doc.value("routes")?.elements)
        #expect(routes.map(\.position) == [pos(54, 1), pos(67, 1)])
        let events = try #require(routes[0].value.table)
        #expect(events.value("name") == .string("tenant-events"))
        #expect(events.value("methods") == .array([TOMLNode(value: .string("GET"), position: pos(57, 12))]))
        #expect(events.value("query_token") == .boolean(true))
        #expect(events.entry("query_token")?.keyPosition == pos(60, 1))
        #expect(events.value("cors_origins")?.elements?.first?.value == .string("https://app.example.com"))
        let api = try #require(routes[1].value.table)
        #expect(api.entries.map(\.key) == ["name", "path_prefix", "upstream", "auth"])
        #expect(api.node("auth")?.position == pos(71, 8))
    }
}

/// The contract text, kept once (in ConfigContractTests).
private var configContract: String { ConfigContractTests.contract }
