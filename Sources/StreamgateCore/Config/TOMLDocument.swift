/// A parsed TOML document that remembers where every key and value came from, so that
/// config validation can report `file:line:col` for any mistake, not only syntax errors.

public struct SourcePosition: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 1-based.
    public var line: Int
    /// 1-based, counted in Unicode scalars.
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

public struct TOMLSyntaxError: Error, Equatable, Sendable {
    public var position: SourcePosition
    public var message: String
    public init(position: SourcePosition, message: String) { self.position = position; self.message = message }
}

public indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// Offset/local date-times, dates and times, kept as their source text.
    case datetime(String)
    case array([TOMLNode])
    case table(TOMLTable)

    /// "string", "integer", "float", "boolean", "datetime", "array", "table": for error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .datetime: "datetime"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A value with the position of its first character.
public struct TOMLNode: Equatable, Sendable {
    public var value: TOMLValue
    public var position: SourcePosition
    public init(value: TOMLValue, position: SourcePosition) { self.value = value; self.position = position }
}

/// A table with its keys in source order.
public struct TOMLTable: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var key: String
        /// Where the key itself was written (for "unknown key" errors).
        public var keyPosition: SourcePosition
        public var node: TOMLNode
        public init(key: String, keyPosition: SourcePosition, node: TOMLNode) {
            self.key = key; self.keyPosition = keyPosition; self.node = node
        }
    }

    public var entries: [Entry]
    /// Where the table was opened (`[header]`, inline `{`, or 1:1 for the root).
    public var position: SourcePosition

    public init(entries: [Entry] = [], position: SourcePosition = SourcePosition(line: 1, column: 1)) {
        self.entries = entries; self.position = position
    }

    public subscript(key: String) -> TOMLNode? { entries.first { $0.key == key }?.node }
    public func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }
}
