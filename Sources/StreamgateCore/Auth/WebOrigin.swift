/// A normalised web origin, `scheme://host[:port]` (RFC 6454 §6.2 serialisation).
///
/// Scheme and host are lowercased and default ports elided, so `HTTPS://App.Example.com:443`
/// and `https://app.example.com` are the same origin. Anything beyond an origin (path,
/// query, userinfo, trailing `/`) is refused rather than trimmed: a config entry or a
/// stored session origin that is not an origin is a mistake worth surfacing. The opaque
/// origin `null` is never an allowed origin.
public struct WebOrigin: Hashable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    /// Nil when absent or the scheme's default.
    public let port: Int?

    public init?(_ text: some StringProtocol) {
        let b = Array(text.utf8)
        guard let sep = Self.find(b, "://"), sep > 0 else { return nil }
        let schemeBytes = b[..<sep]
        guard AuthASCII.isAlpha(schemeBytes.first!),
              schemeBytes.allSatisfy({ AuthASCII.isAlpha($0) || AuthASCII.isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return nil }
        let scheme = String(decoding: schemeBytes.map(AuthASCII.lower), as: UTF8.self)

        var authority = b[(sep + 3)...]
        guard !authority.isEmpty else { return nil }
        var host: String
        if authority.first == UInt8(ascii: "[") {
            // IPv6 literal (RFC 3986 §3.2.2), kept verbatim apart from case.
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let inner = authority[(authority.startIndex + 1)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ AuthASCII.hexValue($0) != nil || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return nil }
            host = "[" + String(decoding: inner.map(AuthASCII.lower), as: UTF8.self) + "]"
            authority = authority[(close + 1)...]
        } else {
            let end = authority.firstIndex(of: UInt8(ascii: ":")) ?? authority.endIndex
            let name = authority[..<end]
            guard !name.isEmpty, name.allSatisfy({
                AuthASCII.isAlpha($0) || AuthASCII.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "~")
            }) else { return nil }
            host = String(decoding: name.map(AuthASCII.lower), as: UTF8.self)
            authority = authority[end...]
        }

        var port: Int?
        if let first = authority.first {
            guard first == UInt8(ascii: ":") else { return nil }
            let digits = authority.dropFirst()
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(AuthASCII.isDigit) else { return nil }
            let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard (1...65_535).contains(value) else { return nil }
            port = value == Self.defaultPort(scheme) ? nil : value
        }
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// `scheme://host[:port]`, the form browsers send in `Origin`.
    public var serialized: String {
        if let port { return "\(scheme)://\(host):\(port)" }
        return "\(scheme)://\(host)"
    }

    public var description: String { serialized }

    static func defaultPort(_ scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }

    private static func find(_ b: [UInt8], _ needle: StaticString) -> Int? {
        let n = needle.withUTF8Buffer { Array($0) }
        guard b.count >= n.count else { return nil }
        for i in 0...(b.count - n.count) where b[i..<(i + n.count)].elementsEqual(n) { return i }
        return nil
    }
}
