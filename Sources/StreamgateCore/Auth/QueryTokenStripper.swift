/// Removes a query parameter from a request target without disturbing anything else.
///
/// The access token must never reach the upstream URL (RFC 6750 §5.3), yet upstreams may
/// sign, cache or route on the exact query: so every other byte of the target (parameter
/// order, percent-encoding, empty segments, `&` separators) is left as it was. Parameter
/// names are matched exactly on their raw bytes (`access_token` does not match
/// `Access_Token` or `access%5Ftoken`: those are different parameters to any upstream too).
///
/// Only `&` separates parameters (`;` is not a separator in WHATWG URL parsing).
public enum QueryTokenStripper {
    /// `target` with every `name` / `name=value` segment of its query removed. When no
    /// segment remains, the `?` goes too. A target without that parameter is returned as is.
    public static func removing(parameter name: String, from target: String) -> String {
        extracting(parameter: name, from: target).target
    }

    /// The raw (still percent-encoded) values of every occurrence of `name`, in order, and
    /// the target without them. A bare `name` (no `=`) yields an empty value.
    ///
    /// Used for the access token and for `last_event_id_param`; decode values with
    /// `percentDecoded(_:)` as the use requires.
    public static func extracting(parameter name: String, from target: String) -> (values: [Substring], target: String) {
        guard let queryRange = queryBounds(in: target) else { return ([], target) }
        let query = target[queryRange]
        // Fast path, also the common one: the name does not occur at all.
        guard mayContain(query, name) else { return ([], target) }

        var values: [Substring] = []
        var kept: [Substring] = []
        for segment in segments(of: query) {
            let (segmentName, value) = splitSegment(segment)
            if segmentName.utf8.elementsEqual(name.utf8) {
                values.append(value)
            } else {
                kept.append(segment)
            }
        }
        guard !values.isEmpty else { return ([], target) }

        let questionMark = target.utf8.index(before: queryRange.lowerBound)
        var out = String(target[..<questionMark])
        let remaining = kept.joined(separator: "&")
        if !remaining.isEmpty {
            out += "?"
            out += remaining
        }
        out += target[queryRange.upperBound...]
        return (values, out)
    }

    /// Raw values of `name` in a bare query (no `?`), as `HTTPRequestHead.query` holds it.
    public static func values(of name: String, inQuery query: Substring) -> [Substring] {
        guard mayContain(query, name) else { return [] }
        var values: [Substring] = []
        for segment in segments(of: query) {
            let (segmentName, value) = splitSegment(segment)
            if segmentName.utf8.elementsEqual(name.utf8) { values.append(value) }
        }
        return values
    }

    /// Percent-decodes `raw` (RFC 3986 §2.1; `%` must be followed by two hex digits) and
    /// requires valid UTF-8. With `plusAsSpace`, `+` reads as a space, as in HTML form
    /// encoding (`URLSearchParams`); without it `+` stays `+`. Nil when undecodable.
    public static func percentDecoded(_ raw: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        let utf8 = Array(raw.utf8)
        if !utf8.contains(UInt8(ascii: "%")) && !(plusAsSpace && utf8.contains(UInt8(ascii: "+"))) {
            return String(raw)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, let hi = AuthASCII.hexValue(utf8[i + 1]), let lo = AuthASCII.hexValue(utf8[i + 2]) else {
                    return nil
                }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// The query of a target: from after the first `?` to a `#` or the end.
    private static func queryBounds(in target: String) -> Range<String.Index>? {
        let utf8 = target.utf8
        guard let q = utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let start = utf8.index(after: q)
        let end = utf8[start...].firstIndex(of: UInt8(ascii: "#")) ?? utf8.endIndex
        return start..<end
    }

    /// `&`-separated segments, empty ones included, split on bytes (a `&` followed by a
    /// combining mark would otherwise hide inside one `Character`).
    private static func segments(of query: Substring) -> [Substring] {
        query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// A bare `name` (no `=`) has an empty value.
    private static func splitSegment(_ segment: Substring) -> (name: Substring, value: Substring) {
        let utf8 = segment.utf8
        guard let eq = utf8.firstIndex(of: UInt8(ascii: "=")) else { return (segment, segment[segment.endIndex...]) }
        return (segment[..<eq], segment[utf8.index(after: eq)...])
    }

    /// Cheap pre-check: false means `name` certainly does not occur as raw bytes in `query`.
    private static func mayContain(_ query: Substring, _ name: String) -> Bool {
        let hay = query.utf8
        let needle = name.utf8
        guard let first = needle.first, hay.count >= needle.count else { return needle.isEmpty }
        var i = hay.startIndex
        while let hit = hay[i...].firstIndex(of: first) {
            if hay[hit...].starts(with: needle) { return true }
            i = hay.index(after: hit)
        }
        return false
    }
}
