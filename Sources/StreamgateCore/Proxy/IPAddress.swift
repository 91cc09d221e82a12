/// An IPv4 or IPv6 address as bits, for prefix matching (`trust_forwarded`), not for display
/// of what a client sent.
///
/// An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, RFC 4291 §2.5.5.2) is read as the IPv4
/// address it maps: a dual-stack listener (`[::]:port`) reports IPv4 peers in that form, and
/// `10.0.0.0/8` must match them exactly as it matches a peer of an IPv4 listener.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Hashable, Sendable { case ipv4, ipv6 }

    public let family: Family
    /// The 128 bits of an IPv6 address, high half first. IPv4 uses the low 32 bits of `low`.
    let high: UInt64
    let low: UInt64

    init(family: Family, high: UInt64, low: UInt64) {
        self.family = family; self.high = high; self.low = low
    }

    public var bitWidth: Int { family == .ipv4 ? 32 : 128 }

    /// Parses a dotted quad or RFC 4291 §2.2 text (zone ids such as `%eth0` are refused);
    /// IPv4-mapped IPv6 becomes IPv4. nil for anything else, including `"-"` or `""`.
    public init?(_ text: some StringProtocol) {
        guard let raw = Self.parseKeepingMapped(text) else { return nil }
        self = raw.unmapped
    }

    /// As written: `::ffff:10.1.2.3` stays IPv6 (a network's prefix length counts its bits).
    static func parseKeepingMapped(_ text: some StringProtocol) -> IPAddress? {
        let bytes = Array(text.utf8)
        if !bytes.contains(UInt8(ascii: ":")) {
            return parseIPv4(bytes[...]).map { IPAddress(family: .ipv4, high: 0, low: UInt64($0)) }
        }
        return parseIPv6(bytes)
    }

    /// Whether this is in `::ffff:0:0/96`.
    var isIPv4Mapped: Bool { family == .ipv6 && high == 0 && low >> 32 == 0xFFFF }

    /// The IPv4 address an IPv4-mapped one stands for; any other address unchanged.
    var unmapped: IPAddress {
        isIPv4Mapped ? IPAddress(family: .ipv4, high: 0, low: low & 0xFFFF_FFFF) : self
    }

    /// Dotted quad, or RFC 5952 text (lowercase, longest run of two or more zero groups as `::`).
    public var description: String {
        if family == .ipv4 {
            return (0..<4).map { String((low >> UInt64(24 - 8 * $0)) & 0xFF) }.joined(separator: ".")
        }
        let groups = (0..<8).map { i -> UInt16 in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (i % 4)))
        }
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        func hex(_ range: Range<Int>) -> String { range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    // MARK: - Parsing

    /// Four decimal parts, 0...255, without leading zeros (some libcs read those as octal).
    private static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDigit),
                  part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
            let n = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    /// Up to eight groups of 1-4 hex digits with at most one `::`, optionally ending in a
    /// dotted quad that counts as two groups.
    private static func parseIPv6(_ bytes: [UInt8]) -> IPAddress? {
        guard bytes.count <= 45 else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        var k = 0
        // A leading "::" is the gap; a single leading ':' is an error.
        if bytes.starts(with: [0x3A, 0x3A]) { sawGap = true; k = 2 } else if bytes.first == 0x3A { return nil }
        while k < bytes.count {
            var end = k
            while end < bytes.count, bytes[end] != 0x3A { end += 1 }
            let group = bytes[k..<end]
            if end == bytes.count, group.contains(UInt8(ascii: ".")) {
                guard let v4 = parseIPv4(group) else { return nil }
                if sawGap { tail += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] } else { head += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] }
                k = end
                break
            }
            guard (1...4).contains(group.count), let v = hexValue(group) else { return nil }
            if sawGap { tail.append(v) } else { head.append(v) }
            if end == bytes.count { k = end; break }
            // At a ':': a second one right after it is the gap ("::"), allowed once and not at the very end unless it is the gap.
            if end + 1 < bytes.count, bytes[end + 1] == 0x3A {
                guard !sawGap else { return nil }
                sawGap = true
                k = end + 2
            } else {
                guard end + 1 < bytes.count else { return nil } // a trailing single ':'
                k = end + 1
            }
        }
        let count = head.count + tail.count
        if sawGap { guard count <= 7 else { return nil } } else { guard count == 8 else { return nil } }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return IPAddress(family: .ipv6, high: high, low: low)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func hexValue(_ group: ArraySlice<UInt8>) -> UInt16? {
        var v: UInt16 = 0
        for b in group {
            guard let d = AuthASCII.hexValue(b) else { return nil }
            v = v << 4 | UInt16(d)
        }
        return v
    }
}
