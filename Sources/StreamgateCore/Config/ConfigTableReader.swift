/// A value with the position it was written at, kept until cross-table checks are done.
struct Located<Value> {
    var value: Value
    var position: SourcePosition
}

/// A config string after `${ENV}` substitution.
struct ConfigString {
    var text: String
    var position: SourcePosition
    /// Came (partly) from the environment: treated as a secret, never echoed.
    var fromEnvironment: Bool

    /// How an error message may show this value.
    var quotedForMessage: String { fromEnvironment ? "(value from the environment)" : "\"\(text)\"" }
}

/// Typed, position-aware access to one TOML table, in the style of Redis's `static_configs[]`:
/// each table declares its keys up front, unknown keys are reported (with a suggestion) the
/// moment the reader is made, and every accessor reports type and value errors itself and
/// returns nil, so decoding continues and all mistakes are collected.
struct ConfigTableReader {
    let table: TOMLTable
    /// How the table is named in messages: `[limits]`, `[routes]`, `[upstreams.api]`.
    let context: String
    let diagnostics: ConfigDiagnostics
    let environment: [String: String]

    init(_ table: TOMLTable, context: String, keys: [String], diagnostics: ConfigDiagnostics, environment: [String: String]) {
        self.table = table
        self.context = context
        self.diagnostics = diagnostics
        self.environment = environment
        for entry in table.entries where !keys.contains(entry.key) {
            let place = context.isEmpty ? "at the top level" : "in \(context)"
            diagnostics.error("unknown key '\(entry.key)' \(place)\(EditDistance.hint(for: entry.key, among: keys))", at: entry.keyPosition)
        }
    }

    var position: SourcePosition { table.position }

    func has(_ key: String) -> Bool { table[key] != nil }

    func node(_ key: String) -> TOMLNode? { table[key] }

    func keyPosition(_ key: String) -> SourcePosition? { table.entry(key)?.keyPosition }

    func error(_ message: String, at position: SourcePosition) { diagnostics.error(message, at: position) }

    /// Reports "missing required key" at the table's own position.
    func requireKey(_ key: String) -> Bool {
        if has(key) { return true }
        diagnostics.error("missing required key '\(key)' in \(context)", at: table.position)
        return false
    }

    // MARK: scalar accessors (nil = absent, or wrong and already reported)

    func string(_ key: String) -> ConfigString? {
        guard let node = table[key] else { return nil }
        return stringValue(node, expected: "a string")
    }

    func stringValue(_ node: TOMLNode, expected: String) -> ConfigString? {
        guard case .string(let raw) = node.value else {
            typeError(expected: expected, node)
            return nil
        }
        switch EnvironmentSubstitution.apply(raw, environment: environment) {
        case .success(let (text, substituted)):
            return ConfigString(text: text, position: node.position, fromEnvironment: substituted)
        case .failure(let failure):
            diagnostics.error(failure.message, at: node.position)
            return nil
        }
    }

    /// A non-empty string.
    func nonEmptyString(_ key: String) -> ConfigString? {
        guard let s = string(key) else { return nil }
        if s.text.isEmpty {
            diagnostics.error("'\(key)' must not be empty", at: s.position)
            return nil
        }
        return s
    }

    func bool(_ key: String) -> Located<Bool>? {
        guard let node = table[key] else { return nil }
        guard case .boolean(let b) = node.value else {
            typeError(expected: "a boolean (true or false)", node)
            return nil
        }
        return Located(value: b, position: node.position)
    }

    func integer(_ key: String, in range: ClosedRange<Int>) -> Located<Int>? {
        guard let node = table[key] else { return nil }
        guard case .integer(let i) = node.value else {
            typeError(expected: "an integer", node)
            return nil
        }
        guard let value = Int(exactly: i), range.contains(value) else {
            diagnostics.error("'\(key)' must be \(describe(range)), found \(i)", at: node.position)
            return nil
        }
        return Located(value: value, position: node.position)
    }

    /// A duration string; `allowZero` says whether `"0s"` (= off) is meaningful for this key.
    func duration(_ key: String, allowZero: Bool = false) -> Located<Duration>? {
        guard let node = table[key], let s = stringValue(node, expected: "a duration string like \"15s\"") else { return nil }
        guard let d = DurationSyntax.parse(s.text) else {
            diagnostics.error("invalid duration \(s.quotedForMessage) for '\(key)': expected a number with a unit ms, s, m, h or d, like \"250ms\", \"15s\" or \"1m30s\"", at: node.position)
            return nil
        }
        if d == .zero && !allowZero {
            diagnostics.error("'\(key)' must be greater than zero", at: node.position)
            return nil
        }
        return Located(value: d, position: node.position)
    }

    /// A size string (`"64KiB"`) or an integer byte count.
    func size(_ key: String, allowZero: Bool = false) -> Located<Int>? {
        guard let node = table[key] else { return nil }
        let bytes: Int
        switch node.value {
        case .integer(let i):
            guard let v = Int(exactly: i), v >= 0 else {
                diagnostics.error("'\(key)' must not be negative", at: node.position)
                return nil
            }
            bytes = v
        case .string:
            guard let s = stringValue(node, expected: "") else { return nil }
            guard let v = ByteSize.parse(s.text) else {
                diagnostics.error("invalid size \(s.quotedForMessage) for '\(key)': expected bytes or a number with B, KB, MB, GB, KiB, MiB or GiB, like \"64KiB\"", at: node.position)
                return nil
            }
            bytes = v
        default:
            typeError(expected: "a size like \"64KiB\" or an integer byte count", node)
            return nil
        }
        if bytes == 0 && !allowZero {
            diagnostics.error("'\(key)' must be greater than zero", at: node.position)
            return nil
        }
        return Located(value: bytes, position: node.position)
    }

    /// An array of strings (each substituted). Element type errors are reported per element.
    func stringArray(_ key: String) -> Located<[ConfigString]>? {
        guard let node = table[key] else { return nil }
        guard case .array(let items) = node.value else {
            typeError(expected: "an array of strings", node)
            return nil
        }
        var out: [ConfigString] = []
        var ok = true
        for item in items {
            if let s = stringValue(item, expected: "a string") { out.append(s) } else { ok = false }
        }
        return ok ? Located(value: out, position: node.position) : nil
    }

    /// A sub-table (`[a.b]` or an inline table).
    func subtable(_ key: String) -> TOMLTable? {
        guard let node = table[key] else { return nil }
        guard case .table(let t) = node.value else {
            typeError(expected: "a table", node)
            return nil
        }
        return t
    }

    /// A string that must be one of `choices`.
    func choice<T>(_ key: String, _ choices: [(String, T)]) -> Located<T>? {
        guard let s = string(key) else { return nil }
        if let hit = choices.first(where: { $0.0 == s.text }) { return Located(value: hit.1, position: s.position) }
        let list = choices.map { "\"\($0.0)\"" }.joined(separator: ", ")
        diagnostics.error("invalid value \(s.quotedForMessage) for '\(key)': expected one of \(list)", at: s.position)
        return nil
    }

    func typeError(expected: String, _ node: TOMLNode) {
        diagnostics.error("expected \(expected), found \(node.value.typeName)", at: node.position)
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "from \(range.lowerBound) to \(range.upperBound)"
    }
}
