/// What part of the request path a route claims.
///
/// Routing matches the request's canonical path (`PathCanonicalizer`: unreserved characters
/// decoded, other percent-encodings uppercase, `//` merged, dot segments removed), which is also
/// what the upstream receives, so the gateway and the upstream agree on the resource:
/// `/public/../admin` is routed, authenticated and forwarded as `/admin`. Route paths are
/// written in that canonical form (the config loader refuses any other spelling).
public enum RoutePath: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// `path = "/plain"`: this path only.
    case exact(String)
    /// `path = "/v1/tenants/{tenant}/events"`: `{param}` matches one non-empty segment.
    case pattern(PathPattern)
    /// `path_prefix = "/api/"`. A prefix ending in `/` matches any path starting with it; a prefix
    /// without the trailing slash matches itself and everything below it at a segment boundary:
    /// `/api` matches `/api` and `/api/x`, never `/apix`.
    case prefix(String)

    /// Parses a `path` value: a pattern when it contains `{param}` segments, else exact.
    public static func parsePath(_ text: String) -> Result<RoutePath, RouteSyntaxError> {
        if let problem = RoutePath.basicProblem(text) { return .failure(problem) }
        guard text.contains("{") || text.contains("}") else { return .success(.exact(text)) }
        return PathPattern.parse(text).map { .pattern($0) }
    }

    /// Parses a `path_prefix` value.
    public static func parsePrefix(_ text: String) -> Result<RoutePath, RouteSyntaxError> {
        if let problem = RoutePath.basicProblem(text) { return .failure(problem) }
        if text.contains("{") || text.contains("}") {
            return .failure(.init(reason: "a path_prefix cannot contain {param} segments; use 'path' for patterns"))
        }
        return .success(.prefix(text))
    }

    private static func basicProblem(_ text: String) -> RouteSyntaxError? {
        guard text.hasPrefix("/") else { return .init(reason: "must start with '/'") }
        // Visible ASCII only, minus what would end the path in a request target.
        for b in text.utf8 where b <= 0x20 || b >= 0x7F || b == UInt8(ascii: "?") || b == UInt8(ascii: "#") {
            return .init(reason: "must be a raw path of visible ASCII without '?' or '#' (percent-encode other bytes)")
        }
        // Requests are matched in canonical form: a route spelled otherwise could never match.
        do {
            let result = try PathCanonicalizer.canonicalize(text)
            if let canonical = result.canonical {
                return .init(reason: "is not in canonical form (requests are matched after '%XX' of unreserved characters is decoded, '//' merged and '.'/'..' resolved): write \"\(canonical)\"")
            }
            if result.hasAmbiguousSeparator {
                return .init(reason: "must not contain '%2F', '%5C' or '\\\\': requests holding them are refused")
            }
        } catch {
            return .init(reason: "is not a valid path (\(error.reason))")
        }
        return nil
    }

    public var description: String {
        switch self {
        case .exact(let p): "path=\(p)"
        case .pattern(let p): "path=\(p)"
        case .prefix(let p): "prefix=\(p)"
        }
    }

    /// Whether `path` is claimed; pattern parameters are returned through `params`.
    func matches(_ path: String, params: inout [(name: String, value: String)]) -> Bool {
        switch self {
        case .exact(let expected):
            // Byte comparison: String == would apply Unicode canonical equivalence.
            return utf8BytesEqual(path, expected)
        case .pattern(let pattern):
            return pattern.match(path, params: &params)
        case .prefix(let prefix):
            return RoutePath.prefixMatches(prefix, path)
        }
    }

    static func prefixMatches(_ prefix: String, _ path: String) -> Bool {
        guard path.utf8.starts(with: prefix.utf8) else { return false }
        if prefix.utf8.last == UInt8(ascii: "/") || path.utf8.count == prefix.utf8.count { return true }
        return path.utf8.dropFirst(prefix.utf8.count).first == UInt8(ascii: "/")
    }
}

/// A `path` with `{param}` segments, e.g. `/v1/tenants/{tenant}/events`.
public struct PathPattern: Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Equatable, Hashable, Sendable {
        case literal(String)
        case parameter(String)
    }

    public private(set) var segments: [Segment]

    public static func parse(_ text: String) -> Result<PathPattern, RouteSyntaxError> {
        guard text.hasPrefix("/") else { return .failure(.init(reason: "must start with '/'")) }
        var segments: [Segment] = []
        var seen: Set<String> = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if raw.hasPrefix("{") && raw.hasSuffix("}") && raw.count >= 2 {
                let name = String(raw.dropFirst().dropLast())
                guard isParameterName(name) else {
                    return .failure(.init(reason: "parameter name '\(name)' must be letters, digits and '_', not starting with a digit"))
                }
                guard seen.insert(name).inserted else {
                    return .failure(.init(reason: "parameter '{\(name)}' appears twice"))
                }
                segments.append(.parameter(name))
            } else if raw.contains("{") || raw.contains("}") {
                return .failure(.init(reason: "a {param} must be a whole path segment (like /users/{id}/posts)"))
            } else {
                segments.append(.literal(String(raw)))
            }
        }
        return .success(PathPattern(segments: segments))
    }

    /// Parameter names in path order.
    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// The shape: `/a/{}/b` for `/a/{x}/b`. Two patterns with one shape match the same paths.
    public var shape: String {
        "/" + segments.map { if case .literal(let s) = $0 { s } else { "{}" } }.joined(separator: "/")
    }

    public var description: String {
        "/" + segments.map { switch $0 { case .literal(let s): s; case .parameter(let n): "{\(n)}" } }.joined(separator: "/")
    }

    var literalSegmentCount: Int { segments.filter { if case .literal = $0 { true } else { false } }.count }
    var literalByteCount: Int { segments.reduce(0) { if case .literal(let s) = $1 { $0 + s.utf8.count } else { $0 } } }

    /// Matches segment by segment on the raw path; a parameter takes one non-empty segment,
    /// percent-encoding kept as is.
    func match(_ path: String, params: inout [(name: String, value: String)]) -> Bool {
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { return false }
        var start = utf8.index(after: utf8.startIndex)
        var found: [(name: String, value: String)] = []
        for (n, segment) in segments.enumerated() {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            let piece = path[start..<end]
            switch segment {
            case .literal(let literal):
                guard piece.utf8.elementsEqual(literal.utf8) else { return false }
            case .parameter(let name):
                guard !piece.isEmpty else { return false }
                found.append((name, String(piece)))
            }
            let isLast = n == segments.count - 1
            if isLast {
                guard end == utf8.endIndex else { return false }
            } else {
                guard end != utf8.endIndex else { return false }
                start = utf8.index(after: end)
            }
        }
        params = found
        return true
    }

    private static func isParameterName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}

/// How a matched path is changed before it goes upstream (prefix routes only).
public enum PathRewrite: Equatable, Sendable {
    /// Forwarded unchanged.
    case none
    /// `strip_prefix = true`: `/api/users` on prefix `/api/` goes up as `/users`.
    case stripPrefix
    /// `rewrite_prefix = "/v2/"`: `/api/users` on prefix `/api/` goes up as `/v2/users`.
    case replacePrefix(String)
}

public struct RouteSyntaxError: Error, Equatable, Sendable {
    public var reason: String
}
