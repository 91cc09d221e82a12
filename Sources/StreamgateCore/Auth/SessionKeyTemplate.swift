/// The Redis key of a session, rendered from `[sessions] key`, e.g. `session:{sha256}`.
///
/// Placeholders: `{sha256}` (lowercase hex digest of the token) and `{token}` (the raw
/// token; safe in a key because extraction restricted it to b64token characters, and keys
/// go to Redis as one argv element, never through a command string). Validated once, at
/// config load, so rendering cannot fail on the request path.
public struct SessionKeyTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Placeholder: String, Sendable, CaseIterable {
        case sha256
        case token
    }

    /// A config mistake, phrased for `streamgate check` (the caller adds file:line).
    public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(Placeholder)
    }

    private let parts: [Part]
    /// The template as configured.
    public let source: String

    /// Refuses unknown placeholders (`{sha1}`), stray or nested braces, and templates with
    /// no placeholder at all (every token would share one key).
    public init(_ template: String) throws(ValidationError) {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(template)
        while let c = rest.first {
            if c == "{" {
                guard let close = rest.firstIndex(of: "}") else {
                    throw ValidationError(message: "session key template \"\(template)\": '{' without '}'")
                }
                let name = rest[rest.index(after: rest.startIndex)..<close]
                guard let placeholder = Placeholder(rawValue: String(name)) else {
                    let known = Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ")
                    throw ValidationError(message: "session key template \"\(template)\": unknown placeholder {\(name)} (known: \(known))")
                }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.placeholder(placeholder))
                rest = rest[rest.index(after: close)...]
            } else if c == "}" {
                throw ValidationError(message: "session key template \"\(template)\": '}' without '{'")
            } else {
                literal.append(c)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard parts.contains(where: { if case .placeholder = $0 { true } else { false } }) else {
            throw ValidationError(message: "session key template \"\(template)\" has no {sha256} or {token} placeholder")
        }
        self.parts = parts
        self.source = template
    }

    /// Whether rendering needs the raw token (otherwise the caller may drop it after hashing).
    public var usesRawToken: Bool { parts.contains(.placeholder(.token)) }

    public func render(token: String, digest: TokenDigest) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .placeholder(.sha256): out += digest.hex
            case .placeholder(.token): out += token
            }
        }
        return out
    }

    public var description: String { source }
}
