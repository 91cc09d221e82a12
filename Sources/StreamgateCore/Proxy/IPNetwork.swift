/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`), as listed in a listener's `trust_forwarded`.
///
/// IPv4 networks match IPv4 peers, IPv6 networks IPv6 peers. A block inside `::ffff:0:0/96`
/// (`::ffff:10.0.0.0/104`) is the IPv4 block it maps (`10.0.0.0/8`), so it also matches the
/// peers of an IPv4 listener; a shorter IPv6 prefix such as `::/0` does *not* take in IPv4
/// peers: trusting "everyone" needs both `0.0.0.0/0` and `::/0`, written on purpose.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network address: every bit past the prefix is zero.
    public let address: IPAddress
    public let prefixLength: Int

    /// `address/prefixLength`, refusing set host bits (see `parse`).
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bitWidth).contains(prefixLength),
              IPNetwork.masked(address, prefixLength) == address else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `peer` (already unmapped, as `IPAddress.init` gives it) is in this block.
    public func contains(_ peer: IPAddress) -> Bool {
        peer.family == address.family && IPNetwork.masked(peer, prefixLength) == address
    }

    /// Parses `address/length`, or a bare address meaning that one host (`/32`, `/128`).
    ///
    /// Host bits past the prefix are an error rather than silently cleared: `10.1.2.3/8` is
    /// more often a typo for `10.1.2.3/32` than a way to write `10.0.0.0/8`, and guessing
    /// wrong would trust a whole network.
    public static func parse(_ text: String) -> Result<IPNetwork, AddressSyntaxError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let written = IPAddress.parseKeepingMapped(parts[0]) else {
            return .failure(.init(reason: "expected an IPv4 or IPv6 address, optionally followed by /prefix-length"))
        }
        var length = written.bitWidth
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let n = Int(digits), n <= written.bitWidth else {
                return .failure(.init(reason: "the prefix length must be a number from 0 to \(written.bitWidth)"))
            }
            length = n
        }
        // Bits past the prefix must be zero in the address as written.
        guard masked(written, length) == written else {
            return .failure(.init(reason: "bits are set past the /\(length) prefix: write the network address \(masked(written, length))/\(length), or a longer prefix"))
        }
        // `::ffff:a.b.c.d/96+n` is the IPv4 block `a.b.c.d/n` (the form peers arrive in).
        if written.isIPv4Mapped, length >= 96 {
            return .success(IPNetwork(uncheckedAddress: written.unmapped, prefixLength: length - 96))
        }
        return .success(IPNetwork(uncheckedAddress: written, prefixLength: length))
    }

    private init(uncheckedAddress: IPAddress, prefixLength: Int) {
        address = uncheckedAddress
        self.prefixLength = prefixLength
    }

    /// `a` with every bit past the first `length` cleared.
    static func masked(_ a: IPAddress, _ length: Int) -> IPAddress {
        if a.family == .ipv4 {
            let mask: UInt64 = length == 0 ? 0 : (0xFFFF_FFFF << UInt64(32 - length)) & 0xFFFF_FFFF
            return IPAddress(family: .ipv4, high: 0, low: a.low & mask)
        }
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits)) }
        return IPAddress(family: .ipv6, high: a.high & mask(length), low: a.low & mask(length - 64))
    }
}

/// The peers a listener trusts to report earlier hops (`trust_forwarded`): their
/// X-Forwarded-For / Forwarded chain is extended with the peer address (RFC 7239 §4)
/// instead of being replaced by the gateway's own.
public struct TrustedProxies: Equatable, Sendable, CustomStringConvertible {
    public var networks: [IPNetwork]

    public init(_ networks: [IPNetwork] = []) { self.networks = networks }

    /// The default: nobody is trusted, the gateway is the edge.
    public static let none = TrustedProxies()

    public var isEmpty: Bool { networks.isEmpty }

    public func contains(_ peer: IPAddress) -> Bool { networks.contains { $0.contains(peer) } }

    /// `peer` as text (the TCP peer's address); anything that does not parse as an IP
    /// address (`"-"` when the peer is unknown) is not trusted.
    public func trusts(peer: String) -> Bool {
        guard !networks.isEmpty, let address = IPAddress(peer) else { return false }
        return contains(address)
    }

    public var description: String { networks.map(\.description).joined(separator: ", ") }
}
