/// One segment of a (possibly dotted) key, with where it was written.
struct TOMLKeySegment {
    var name: String
    var position: SourcePosition
}

/// Assembles the table tree while enforcing TOML's rules on who may define or extend a table.
///
/// Tables live in an arena addressed by index so that a header deep in the document can reach
/// back into a table opened earlier without copy-on-write juggling of nested value types; the
/// public `TOMLTable` tree is produced once at the end by `build(_:)`.
///
/// The rules follow TOML 1.0 (and agree with tomli and toml-test on the ambiguous cases):
/// - a `[header]` defines a table once; it may define a table that earlier headers only
///   implied (`[a.b]` then `[a]`), but not one created by dotted keys;
/// - dotted keys may create and extend tables only within the section that created them, and
///   never reach into a table defined by a header or into an array of tables;
/// - inline tables and arrays written as values are complete: nothing may be added to them.
struct TOMLTableBuilder {
    enum Origin {
        /// Implied by a header's prefix (`a` in `[a.b]`); a header may still define it.
        case implied
        /// Defined by `[header]` or `[[header]]`.
        case header
        /// Created (or first extended) by dotted keys in this section.
        case dotted(section: Int)
        /// The root of the document or of an inline table being parsed.
        case root
    }

    enum Slot {
        /// A finished value: scalar, static array or inline table.
        case value(TOMLNode)
        case table(Int)
        /// `[[name]]` elements (table indices) and where the first header was.
        case arrayOfTables(position: SourcePosition, elements: [Int])
    }

    struct Entry {
        var keyPosition: SourcePosition
        var slot: Slot
    }

    struct Table {
        var position: SourcePosition
        var origin: Origin
        var keys: [String] = []
        var entries: [String: Entry] = [:]
    }

    private(set) var tables: [Table]
    private var sections = 0

    /// The document root is table 0.
    static let root = 0

    init() {
        tables = [Table(position: SourcePosition(line: 1, column: 1), origin: .root)]
    }

    /// A fresh section number: every header starts one, and so does every inline table.
    mutating func newSection() -> Int {
        sections += 1
        return sections
    }

    /// An empty table that is not (yet) attached anywhere: the root of an inline table.
    mutating func newDetachedTable(at position: SourcePosition) -> Int {
        tables.append(Table(position: position, origin: .root))
        return tables.count - 1
    }

    // MARK: Key/value pairs

    /// Adds `key = value` to `table`, creating tables for the dotted prefix of `key`.
    mutating func insert(_ node: TOMLNode, at key: [TOMLKeySegment], in table: Int, section: Int) throws(TOMLSyntaxError) {
        var current = table
        for (depth, segment) in key.dropLast().enumerated() {
            let written = TOMLTableBuilder.display(key[...depth])
            guard let entry = tables[current].entries[segment.name] else {
                current = attach(segment, to: current, table: Table(position: segment.position, origin: .dotted(section: section)))
                continue
            }
            switch entry.slot {
            case .table(let child):
                switch tables[child].origin {
                case .implied:
                    // tomli and toml-test agree: dotted keys may fill in a table that headers
                    // only implied, and that claims it for this section.
                    tables[child].origin = .dotted(section: section)
                case .dotted(let owner) where owner == section:
                    break
                case .root:
                    break
                case .dotted:
                    throw TOMLSyntaxError(position: segment.position, message:
                        "cannot add keys to table '\(written)' here: it was created by dotted keys in another table section (at \(entry.keyPosition))")
                case .header:
                    throw TOMLSyntaxError(position: segment.position, message:
                        "cannot add keys to table '\(written)' with dotted keys: it is defined by a table header at \(tables[child].position)")
                }
                current = child
            case .arrayOfTables(let position, _):
                throw TOMLSyntaxError(position: segment.position, message:
                    "cannot add keys to array of tables '\(written)' with dotted keys (defined at \(position))")
            case .value(let existing):
                throw notATable(written, existing, keyPosition: entry.keyPosition, at: segment.position)
            }
        }
        let last = key[key.count - 1]
        if let entry = tables[current].entries[last.name] {
            throw TOMLSyntaxError(position: last.position, message:
                "duplicate key '\(TOMLTableBuilder.display(key[...]))' (first defined at \(entry.keyPosition))")
        }
        tables[current].keys.append(last.name)
        tables[current].entries[last.name] = Entry(keyPosition: last.position, slot: .value(node))
    }

    // MARK: Headers

    /// `[key]`: returns the table that the following key/value pairs go into.
    mutating func defineTable(_ key: [TOMLKeySegment], header: SourcePosition) throws(TOMLSyntaxError) -> Int {
        let parent = try walkHeaderPrefix(key)
        let last = key[key.count - 1]
        let written = TOMLTableBuilder.display(key[...])
        guard let entry = tables[parent].entries[last.name] else {
            return attach(last, to: parent, table: Table(position: header, origin: .header))
        }
        switch entry.slot {
        case .table(let child):
            switch tables[child].origin {
            case .implied:
                // Now defined for real: point errors about it at its header from here on.
                tables[child].origin = .header
                tables[child].position = header
                tables[parent].entries[last.name]?.keyPosition = last.position
                return child
            case .header, .root:
                throw TOMLSyntaxError(position: last.position, message:
                    "duplicate table [\(written)] (first defined at \(tables[child].position))")
            case .dotted:
                throw TOMLSyntaxError(position: last.position, message:
                    "table [\(written)] is already defined by dotted keys at \(entry.keyPosition)")
            }
        case .arrayOfTables(let position, _):
            throw TOMLSyntaxError(position: last.position, message:
                "table [\(written)] is already defined as an array of tables at \(position)")
        case .value(let existing):
            throw notATable(written, existing, keyPosition: entry.keyPosition, at: last.position)
        }
    }

    /// `[[key]]`: appends a table to the array and returns it.
    mutating func appendArrayTable(_ key: [TOMLKeySegment], header: SourcePosition) throws(TOMLSyntaxError) -> Int {
        let parent = try walkHeaderPrefix(key)
        let last = key[key.count - 1]
        let written = TOMLTableBuilder.display(key[...])
        let element = Table(position: header, origin: .header)
        guard let entry = tables[parent].entries[last.name] else {
            tables.append(element)
            let index = tables.count - 1
            tables[parent].keys.append(last.name)
            tables[parent].entries[last.name] = Entry(
                keyPosition: last.position, slot: .arrayOfTables(position: header, elements: [index]))
            return index
        }
        switch entry.slot {
        case .arrayOfTables(let position, let elements):
            tables.append(element)
            let index = tables.count - 1
            tables[parent].entries[last.name]?.slot = .arrayOfTables(position: position, elements: elements + [index])
            return index
        case .table(let child):
            throw TOMLSyntaxError(position: last.position, message:
                "cannot define [[\(written)]] as an array of tables: '\(written)' is already a table (defined at \(tables[child].position))")
        case .value(let existing):
            if case .array = existing.value {
                throw TOMLSyntaxError(position: last.position, message:
                    "cannot append to static array '\(written)' (defined at \(entry.keyPosition))")
            }
            throw notATable(written, existing, keyPosition: entry.keyPosition, at: last.position)
        }
    }

    /// Follows (creating as implied) all but the last segment of a header key; arrays of tables
    /// are entered at their most recent element.
    private mutating func walkHeaderPrefix(_ key: [TOMLKeySegment]) throws(TOMLSyntaxError) -> Int {
        var current = TOMLTableBuilder.root
        for (depth, segment) in key.dropLast().enumerated() {
            guard let entry = tables[current].entries[segment.name] else {
                current = attach(segment, to: current, table: Table(position: segment.position, origin: .implied))
                continue
            }
            switch entry.slot {
            case .table(let child):
                current = child
            case .arrayOfTables(_, let elements):
                current = elements[elements.count - 1]
            case .value(let existing):
                throw notATable(TOMLTableBuilder.display(key[...depth]), existing, keyPosition: entry.keyPosition, at: segment.position)
            }
        }
        return current
    }

    private mutating func attach(_ segment: TOMLKeySegment, to parent: Int, table: Table) -> Int {
        tables.append(table)
        let index = tables.count - 1
        tables[parent].keys.append(segment.name)
        tables[parent].entries[segment.name] = Entry(keyPosition: segment.position, slot: .table(index))
        return index
    }

    private func notATable(_ written: String, _ existing: TOMLNode, keyPosition: SourcePosition, at position: SourcePosition) -> TOMLSyntaxError {
        let message = switch existing.value {
        case .table: "cannot extend inline table '\(written)' (defined at \(existing.position)): inline tables are complete as written"
        case .array: "cannot extend static array '\(written)' (defined at \(existing.position)) with a table"
        default: "key '\(written)' is already defined as \(existing.value.typeName) at \(keyPosition), not a table"
        }
        return TOMLSyntaxError(position: position, message: message)
    }

    // MARK: Output

    /// The public tree rooted at `index`.
    func build(_ index: Int) -> TOMLTable {
        let table = tables[index]
        var entries: [TOMLTable.Entry] = []
        entries.reserveCapacity(table.keys.count)
        for key in table.keys {
            guard let entry = table.entries[key] else { continue }
            let node: TOMLNode
            switch entry.slot {
            case .value(let value):
                node = value
            case .table(let child):
                node = TOMLNode(value: .table(build(child)), position: tables[child].position)
            case .arrayOfTables(let position, let elements):
                let items = elements.map { TOMLNode(value: .table(build($0)), position: tables[$0].position) }
                node = TOMLNode(value: .array(items), position: position)
            }
            entries.append(TOMLTable.Entry(key: key, keyPosition: entry.keyPosition, node: node))
        }
        return TOMLTable(entries: entries, position: table.position)
    }

    /// A key as it would be written: bare segments as-is, others quoted.
    static func display(_ key: ArraySlice<TOMLKeySegment>) -> String {
        key.map { segment in
            let name = segment.name
            if !name.isEmpty && name.unicodeScalars.allSatisfy(TOMLCursor.isBareKeyScalar) { return name }
            var quoted = "\""
            for scalar in name.unicodeScalars {
                switch scalar {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                default:
                    if TOMLCursor.isControl(scalar) {
                        quoted += "\\u" + String(TOMLCursor.codePoint(scalar).dropFirst(2))
                    } else {
                        quoted.unicodeScalars.append(scalar)
                    }
                }
            }
            return quoted + "\""
        }.joined(separator: ".")
    }
}
