/// `${NAME}` substitution inside config strings, so secrets (Redis passwords, signing keys)
/// stay out of the file. `$${` writes a literal `${`; any other `$` is kept as is.
enum EnvironmentSubstitution {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// The substituted text, and whether any variable was used (such values are treated as
    /// secrets: never echoed in errors or `describe()`).
    static func apply(_ text: String, environment: [String: String]) -> Result<(text: String, substituted: Bool), Failure> {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return .success((text, false)) }
        var out = ""
        var substituted = false
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "$", i + 2 < scalars.count, scalars[i + 1] == "$", scalars[i + 2] == "{" {
                out += "${"
                i += 3
                continue
            }
            if c == "$", i + 1 < scalars.count, scalars[i + 1] == "{" {
                var j = i + 2
                var name = ""
                while j < scalars.count, scalars[j] != "}" {
                    name.unicodeScalars.append(scalars[j])
                    j += 1
                }
                guard j < scalars.count else {
                    return .failure(Failure(message: "unterminated '${' in string (write '$${' for a literal '${')"))
                }
                guard isValidName(name) else {
                    return .failure(Failure(message: "invalid environment variable name in '${...}': use letters, digits and '_'"))
                }
                guard let value = environment[name] else {
                    return .failure(Failure(message: "environment variable '\(name)' is not set"))
                }
                out += value
                substituted = true
                i = j + 1
                continue
            }
            out.unicodeScalars.append(c)
            i += 1
        }
        return .success((out, substituted))
    }

    private static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
