/// "Did you mean" support for unknown keys and names.
enum EditDistance {
    /// Levenshtein distance over Unicode scalars (config keys are short, so O(n*m) is fine).
    static func between(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let substitution = previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The candidate nearest to `word` if it is within `maxDistance` edits (ties: first listed).
    static func suggestion(for word: String, among candidates: [String], maxDistance: Int = 2) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let d = between(word.lowercased(), candidate.lowercased())
            if d <= maxDistance, d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// " (did you mean 'x'?)" or "".
    static func hint(for word: String, among candidates: [String]) -> String {
        suggestion(for: word, among: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }
}
