/// The `host` of a route: an exact name or a `*.suffix` wildcard.
///
/// Matching ignores ASCII case and the port, and a single trailing dot (`example.com.` is the
/// same name). `*.example.com` matches any depth of subdomain (`a.example.com`,
/// `a.b.example.com`) but not `example.com` itself.
public enum RouteHost: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Lowercased name without port.
    case exact(String)
    /// Lowercased suffix including the leading dot: `".example.com"` for `*.example.com`.
    case wildcard(suffix: String)

    /// Parses `api.example.com` or `*.example.com`; nil when it is neither.
    public init?(parsing text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("*.") {
            let rest = String(lower.dropFirst(2))
            guard NetworkAddressSyntax.isHostName(rest), !rest.hasSuffix(".") else { return nil }
            self = .wildcard(suffix: "." + rest)
        } else {
            guard NetworkAddressSyntax.isHostName(lower) || NetworkAddressSyntax.isIPv4(lower), !lower.hasSuffix(".") else { return nil }
            self = .exact(lower)
        }
    }

    public var description: String {
        switch self {
        case .exact(let name): name
        case .wildcard(let suffix): "*" + suffix
        }
    }

    /// Precedence among host-specific routes: exact names first, then longer wildcards.
    var specificity: Int {
        switch self {
        case .exact: Int.max
        case .wildcard(let suffix): suffix.utf8.count
        }
    }

    /// `requestHost` is the authority as received (`Host` header or absolute-form), port included.
    public func matches(_ requestHost: String) -> Bool {
        matches(name: RouteHost.stripPort(requestHost))
    }

    /// `name` is already without port (see `stripPort`), so a router strips it once per request.
    func matches(name: Substring) -> Bool {
        switch self {
        case .exact(let expected):
            return equalsIgnoringASCIICase(name, Substring(expected))
        case .wildcard(let suffix):
            guard name.utf8.count > suffix.utf8.count else { return false }
            let tail = name.utf8.suffix(suffix.utf8.count)
            return zip(tail, suffix.utf8).allSatisfy { lowerASCII($0) == $1 }
        }
    }

    /// `host:port` -> `host`; `[v6]:port` -> `[v6]`; also drops one trailing dot.
    /// Works on UTF-8 bytes: the delimiters are ASCII, and Character-level searching (grapheme
    /// breaking) cost more than the rest of routing a request.
    static func stripPort(_ authority: String) -> Substring {
        let u = authority.utf8
        var end = u.endIndex
        if u.first == UInt8(ascii: "[") {
            if let close = u.firstIndex(of: UInt8(ascii: "]")) { end = u.index(after: close) }
        } else if let colon = u.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > u.startIndex, u[u.index(before: end)] == UInt8(ascii: ".") { end = u.index(before: end) }
        return authority[u.startIndex..<end]
    }
}

@inline(__always)
private func lowerASCII(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

private func equalsIgnoringASCIICase(_ a: Substring, _ b: Substring) -> Bool {
    a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { lowerASCII($0) == lowerASCII($1) }
}
