/// Where a listener binds: a literal IP address and port (no name resolution at bind time).
public struct ListenAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    /// The literal address without brackets: `"127.0.0.1"`, `"::1"`, `"0.0.0.0"` for `*`.
    public var host: String
    /// 0 asks the kernel for an ephemeral port (tests do this).
    public var port: UInt16
    public var family: Family

    public init(host: String, port: UInt16, family: Family) {
        self.host = host; self.port = port; self.family = family
    }

    /// `host:port`, with brackets for IPv6.
    public var description: String { family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether binding both would fail with EADDRINUSE: same family and port, and the same
    /// address or a wildcard on either side. Port 0 never conflicts (the kernel picks).
    public func conflicts(with other: ListenAddress) -> Bool {
        guard port != 0, port == other.port, family == other.family else { return false }
        return host == other.host || isWildcard || other.isWildcard
    }

    /// `0.0.0.0` or `::`: every local address of the family.
    public var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    /// Parses `"127.0.0.1:8080"`, `"[::1]:8080"`, `"*:8080"` (= `0.0.0.0`), `"0.0.0.0:8080"`.
    public static func parse(_ text: String) -> Result<ListenAddress, AddressSyntaxError> {
        guard let (host, portText, bracketed) = splitHostPort(text) else {
            return .failure(.init(reason: "expected \"host:port\", \"[ipv6]:port\" or \"*:port\""))
        }
        guard let port = UInt16(portText), portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return .failure(.init(reason: "port must be a number from 0 to 65535"))
        }
        if bracketed {
            guard NetworkAddressSyntax.isIPv6(host) else { return .failure(.init(reason: "invalid IPv6 address")) }
            return .success(ListenAddress(host: host.lowercased(), port: port, family: .ipv6))
        }
        if host == "*" { return .success(ListenAddress(host: "0.0.0.0", port: port, family: .ipv4)) }
        guard NetworkAddressSyntax.isIPv4(host) else {
            return .failure(.init(reason: "host must be an IPv4 address, \"*\" or a bracketed IPv6 address (names are not resolved for listeners)"))
        }
        return .success(ListenAddress(host: host, port: port, family: .ipv4))
    }
}

/// One upstream server: a host name or literal address and a port. Names stay names: they are
/// resolved by the I/O layer when it connects, so DNS changes are followed.
public struct UpstreamTarget: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Host name (lowercased), IPv4 literal, or IPv6 literal without brackets.
    public var host: String
    public var port: UInt16
    public var isIPv6Literal: Bool

    public init(host: String, port: UInt16, isIPv6Literal: Bool = false) {
        self.host = host; self.port = port; self.isIPv6Literal = isIPv6Literal
    }

    public var description: String { isIPv6Literal ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `"10.0.0.5:9000"`, `"[::1]:9000"`, `"events.internal:9000"`.
    public static func parse(_ text: String) -> Result<UpstreamTarget, AddressSyntaxError> {
        guard let (host, portText, bracketed) = splitHostPort(text) else {
            return .failure(.init(reason: "expected \"host:port\" or \"[ipv6]:port\""))
        }
        guard let port = UInt16(portText), port > 0, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return .failure(.init(reason: "port must be a number from 1 to 65535"))
        }
        if bracketed {
            guard NetworkAddressSyntax.isIPv6(host) else { return .failure(.init(reason: "invalid IPv6 address")) }
            return .success(UpstreamTarget(host: host.lowercased(), port: port, isIPv6Literal: true))
        }
        guard NetworkAddressSyntax.isIPv4(host) || NetworkAddressSyntax.isHostName(host) else {
            return .failure(.init(reason: "invalid host name"))
        }
        return .success(UpstreamTarget(host: host.lowercased(), port: port))
    }
}

public struct AddressSyntaxError: Error, Equatable, Sendable {
    public var reason: String
}

/// Splits `host:port` / `[v6]:port` at the last colon; nil when there is no port.
private func splitHostPort(_ text: String) -> (host: String, port: String, bracketed: Bool)? {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":"), rest.count > 1 else { return nil }
        return (host, String(rest.dropFirst()), true)
    }
    guard let colon = text.lastIndex(of: ":") else { return nil }
    let host = String(text[..<colon])
    let port = String(text[text.index(after: colon)...])
    // An unbracketed IPv6 literal ("::1:80") is ambiguous; refuse it.
    guard !host.isEmpty, !port.isEmpty, !host.contains(":") else { return nil }
    return (host, port, false)
}

/// Syntax checks for hosts, without any resolution.
enum NetworkAddressSyntax {
    /// Dotted quad, each part 0...255 without leading zeros (which some libcs read as octal).
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int(part), value <= 255 else { return false }
            return part.count == 1 || part.first != "0"
        }
    }

    /// RFC 4291 text form: up to eight groups of 1-4 hex digits, one optional `::`, optionally
    /// ending in a dotted quad. Zone ids (`%eth0`) are not accepted.
    static func isIPv6(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 45 else { return false }
        let scalars = Array(text.utf8)
        var doubleColonCount = 0
        var k = 0
        while k + 1 < scalars.count {
            if scalars[k] == UInt8(ascii: ":"), scalars[k + 1] == UInt8(ascii: ":") { doubleColonCount += 1; k += 2 } else { k += 1 }
        }
        guard doubleColonCount <= 1 else { return false }
        var groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // "::x" and "x::" produce empty groups at the edges that belong to the "::".
        if text.hasPrefix("::") { groups.removeFirst() }
        if text.hasSuffix("::") { groups.removeLast() }
        var groupCount = 0
        for (n, group) in groups.enumerated() {
            if group.isEmpty {
                guard doubleColonCount == 1 else { return false }
                continue
            }
            if n == groups.count - 1, group.contains(".") {
                guard isIPv4(group) else { return false }
                groupCount += 2
                continue
            }
            guard group.utf8.count <= 4, group.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit }) else { return false }
            groupCount += 1
        }
        let emptyGroups = groups.filter(\.isEmpty).count
        guard emptyGroups <= 1 || (text == "::") else { return false }
        return doubleColonCount == 1 ? groupCount <= 7 : groupCount == 8
    }

    /// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
    static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        var name = Substring(text)
        if name.hasSuffix(".") { name = name.dropLast() }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D }
        }
    }
}
