/// One configuration mistake, located in the file it came from.
///
/// `description` is the classic compiler shape, `file:line:col: message`, so editors and
/// terminals can jump to it. Messages never contain values that came from `${ENV}`
/// substitution or secret keys: the output of `streamgate check` ends up in CI logs.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Line 0 means "the file as a whole" (it could not be read, or a required table is missing).
    public var position: SourcePosition
    public var message: String

    public init(file: String, position: SourcePosition, message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    public var description: String {
        position.line == 0 ? "\(file): \(message)" : "\(file):\(position.line):\(position.column): \(message)"
    }
}

/// Every mistake found in one configuration file, in source order.
///
/// Validation never stops at the first problem: an operator fixing a config should see the
/// whole list at once, like a compiler's diagnostics.
public struct ConfigErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(errors: [ConfigError]) { self.errors = errors }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Collects errors while a config is decoded. Local to one load, never shared.
final class ConfigDiagnostics {
    let file: String
    private(set) var errors: [ConfigError] = []

    init(file: String) { self.file = file }

    func error(_ message: String, at position: SourcePosition) {
        errors.append(ConfigError(file: file, position: position, message: message))
    }

    /// Errors ordered by where they occur (stable for equal positions), so the report reads
    /// top to bottom like the file.
    var sortedErrors: [ConfigError] {
        errors.enumerated().sorted { a, b in
            let (pa, pb) = (a.element.position, b.element.position)
            if pa.line != pb.line { return pa.line < pb.line }
            if pa.column != pb.column { return pa.column < pb.column }
            return a.offset < b.offset
        }.map(\.element)
    }
}
