/// A parsed JSON value (RFC 8259).
///
/// Numbers keep their source text so that integers wider than a `Double` mantissa (unix
/// timestamps in milliseconds, 64-bit ids) are read back exactly.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSON])
    /// Duplicate member names are rejected by the parser, so a dictionary loses nothing.
    case object([String: JSON])

    /// The member `key` of an object; nil for a missing member or a non-object.
    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value of an integer literal (no fraction, no exponent) that fits in an `Int64`.
    public var int64Value: Int64? {
        if case .number(let n) = self { return n.int64Value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON number as written in the source (already validated against the RFC 8259 grammar).
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The literal, e.g. `-12`, `0.5`, `1e9`.
    public let lexeme: String

    /// Internal: the parser has validated the grammar; nobody else builds unchecked numbers.
    init(validatedLexeme: String) { self.lexeme = validatedLexeme }

    /// The exact value of an integer literal that fits in `Int64`; nil for fractions,
    /// exponents and out-of-range integers (never rounded).
    public var int64Value: Int64? { Int64(lexeme) }

    public var doubleValue: Double? { Double(lexeme) }

    public var description: String { lexeme }
}

/// Why a document was refused, with the byte offset where the parser gave up.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public init(offset: Int, message: String) { self.offset = offset; self.message = message }
    public var description: String { "JSON error at byte \(offset): \(message)" }
}
