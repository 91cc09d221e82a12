/// A PROXY protocol header, versions 1 (text) and 2 (binary), as HAProxy's specification "The
/// PROXY protocol" defines them: what a layer-4 load balancer writes at the start of each
/// connection so the server learns the client's address.
///
/// `parse` is a pure function of the bytes received so far: it answers `needMore`, `parsed`
/// (with the number of bytes the header occupies) or `invalid`, and never asks for more than
/// `maxLength` bytes. Strict, as the specification asks: "any sequence which does not exactly
/// match the protocol must be discarded and cause the receiver to abort the connection".
/// An invalid prefix stays invalid however many bytes follow, and a header is parsed the same
/// whatever follows it, so a caller may parse again after every read.
public struct ProxyProtocolHeader: Equatable, Sendable {
    public enum Version: Equatable, Sendable { case v1, v2 }

    /// One side of the relayed connection.
    public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16

        public init(address: IPAddress, port: UInt16) { self.address = address; self.port = port }

        public var description: String {
            address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        }
    }

    public var version: Version
    /// The relayed connection's client and the address it connected to. Both nil when the
    /// header says to use the connection's own endpoints: v1 `UNKNOWN`, v2 `LOCAL` (health
    /// checks), and v2 families other than TCP over IPv4/IPv6 (UNSPEC, UDP, UNIX), which the
    /// specification lets a receiver treat as UNSPEC.
    public var source: Endpoint?
    public var destination: Endpoint?
    /// Bytes the header occupies at the start of the stream; what follows is the client's data.
    public var length: Int

    public init(version: Version, source: Endpoint?, destination: Endpoint?, length: Int) {
        self.version = version; self.source = source; self.destination = destination; self.length = length
    }

    public enum ParseResult: Equatable, Sendable {
        /// A valid prefix of a header: read more (within `maxLength`).
        case needMore
        case parsed(ProxyProtocolHeader)
        /// Not a header this receiver accepts: the connection must be closed.
        case invalid(String)
    }

    /// The longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses).
    public static let v1MaxLength = 107
    /// The longest v2 header accepted (16 fixed bytes, addresses and TLVs). The format allows
    /// 16 + 65535; real balancers send at most a few hundred bytes of TLVs (TLS details, a
    /// unique id, a VPC endpoint id), so anything past 4 KiB is refused rather than buffered.
    public static let v2MaxLength = 4096
    /// The most bytes `parse` ever needs to decide.
    public static let maxLength = max(v1MaxLength, v2MaxLength)

    /// `\r\n\r\n\0\r\nQUIT\n`: the 12 bytes that open every v2 header.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix: [UInt8] = Array("PROXY ".utf8)

    public static func parse(_ bytes: [UInt8]) -> ParseResult {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Parses the start of a connection's input (at most `maxLength` bytes are looked at).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        guard let first = bytes.first else { return .needMore }
        switch first {
        case v1Prefix[0]: return parseV1(bytes)
        case v2Signature[0]: return parseV2(bytes)
        default: return .invalid("not a PROXY protocol header")
        }
    }

    // MARK: - Version 1

    private static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, space: UInt8 = 0x20

    private static func parseV1(_ b: UnsafeRawBufferPointer) -> ParseResult {
        for i in 0..<min(b.count, v1Prefix.count) where b[i] != v1Prefix[i] {
            return .invalid("not a PROXY protocol header")
        }
        // The line is decoded only once its CRLF is in (the specification's order), and a
        // lone CR or LF never ends it.
        var i = v1Prefix.count
        while i < min(b.count, v1MaxLength) {
            switch b[i] {
            case lf:
                return .invalid("v1 line ends in a bare LF")
            case cr:
                if i + 1 >= v1MaxLength { return .invalid("v1 line has no CRLF within \(v1MaxLength) bytes") }
                if i + 1 >= b.count { return .needMore }
                guard b[i + 1] == lf else { return .invalid("v1 line has a CR not followed by LF") }
                return parseV1Line(UnsafeRawBufferPointer(rebasing: b[v1Prefix.count..<i]), length: i + 2)
            default:
                i += 1
            }
        }
        return b.count >= v1MaxLength ? .invalid("v1 line has no CRLF within \(v1MaxLength) bytes") : .needMore
    }

    /// `TCP4|TCP6 SRC DST SPORT DPORT`, or `UNKNOWN` followed by anything (ignored).
    private static func parseV1Line(_ line: UnsafeRawBufferPointer, length: Int) -> ParseResult {
        let unknown = Array("UNKNOWN".utf8)
        if line.starts(with: unknown) && (line.count == unknown.count || line[unknown.count] == space) {
            return .parsed(ProxyProtocolHeader(version: .v1, source: nil, destination: nil, length: length))
        }
        // Exactly one space between fields: an empty field is an error.
        let fields = line.split(separator: space, omittingEmptySubsequences: false)
        guard let proto = fields.first, proto.elementsEqual("TCP4".utf8) || proto.elementsEqual("TCP6".utf8) else {
            return .invalid("v1 protocol must be TCP4, TCP6 or UNKNOWN")
        }
        guard fields.count == 5 else { return .invalid("v1 line must have 5 fields after PROXY, found \(fields.count)") }
        let v6 = proto.last == UInt8(ascii: "6")
        guard let src = v1Address(fields[1], ipv6: v6), let dst = v1Address(fields[2], ipv6: v6) else {
            return .invalid("v1 address is not a valid \(v6 ? "IPv6" : "IPv4") address")
        }
        guard let sport = v1Port(fields[3]), let dport = v1Port(fields[4]) else {
            return .invalid("v1 port must be a decimal number from 0 to 65535 without leading zeros")
        }
        return .parsed(ProxyProtocolHeader(version: .v1, source: Endpoint(address: src, port: sport),
                                           destination: Endpoint(address: dst, port: dport), length: length))
    }

    /// The family the protocol names, in its text form (dotted quads without leading zeros;
    /// RFC 4291 text for IPv6). An IPv4-mapped IPv6 address reads as the IPv4 it maps.
    private static func v1Address(_ field: Slice<UnsafeRawBufferPointer>, ipv6: Bool) -> IPAddress? {
        guard field.contains(UInt8(ascii: ":")) == ipv6,
              let a = IPAddress.parseKeepingMapped(String(decoding: field, as: UTF8.self)) else { return nil }
        return a.unmapped
    }

    private static func v1Port(_ field: Slice<UnsafeRawBufferPointer>) -> UInt16? {
        guard (1...5).contains(field.count), field.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              field.count == 1 || field.first != 0x30 else { return nil }
        let n = field.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return UInt16(exactly: n)
    }

    // MARK: - Version 2

    private static func parseV2(_ b: UnsafeRawBufferPointer) -> ParseResult {
        for i in 0..<min(b.count, v2Signature.count) where b[i] != v2Signature[i] {
            return .invalid("not a PROXY protocol header")
        }
        // Each fixed byte is judged as soon as it arrives, so garbage is refused at once.
        if b.count > 12 {
            guard b[12] >> 4 == 2 else { return .invalid("v2 version must be 2, found \(b[12] >> 4)") }
            guard b[12] & 0x0F <= 1 else { return .invalid("v2 command must be LOCAL or PROXY, found \(b[12] & 0x0F)") }
        }
        if b.count > 13 {
            guard b[13] >> 4 <= 3, b[13] & 0x0F <= 2 else {
                return .invalid("v2 address family and protocol byte 0x\(hex(b[13])) is not defined")
            }
        }
        guard b.count >= 16 else { return .needMore }
        let total = 16 + (Int(b[14]) << 8 | Int(b[15]))
        guard total <= v2MaxLength else { return .invalid("v2 header of \(total) bytes is longer than the \(v2MaxLength) accepted") }
        guard b.count >= total else { return .needMore }
        let header = UnsafeRawBufferPointer(rebasing: b[0..<total])
        let local = b[12] & 0x0F == 0
        // LOCAL: "the receiver must accept this connection as valid and must use the real
        // connection endpoints and discard the protocol block including the family".
        if local { return .parsed(ProxyProtocolHeader(version: .v2, source: nil, destination: nil, length: total)) }
        var source: Endpoint?, destination: Endpoint?
        let addressLength: Int
        switch b[13] {
        case 0x00:
            // UNSPEC: addresses (if any) are to be ignored, so nothing after byte 16 has a
            // known layout: skipped whole.
            return .parsed(ProxyProtocolHeader(version: .v2, source: nil, destination: nil, length: total))
        case 0x11:
            addressLength = 12
            guard total >= 16 + addressLength else { return .invalid("v2 TCP/IPv4 address block needs 12 bytes, header has \(total - 16)") }
            source = Endpoint(address: ipv4(header, at: 16), port: port(header, at: 24))
            destination = Endpoint(address: ipv4(header, at: 20), port: port(header, at: 26))
        case 0x21:
            addressLength = 36
            guard total >= 16 + addressLength else { return .invalid("v2 TCP/IPv6 address block needs 36 bytes, header has \(total - 16)") }
            source = Endpoint(address: ipv6(header, at: 16), port: port(header, at: 48))
            destination = Endpoint(address: ipv6(header, at: 32), port: port(header, at: 50))
        case 0x12, 0x22, 0x31, 0x32:
            // UDP or UNIX: valid combinations this TCP receiver does not use, which the
            // specification lets it treat as UNSPEC (the connection's own endpoints).
            addressLength = b[13] >> 4 == 3 ? 216 : b[13] >> 4 == 2 ? 36 : 12
            guard total >= 16 + addressLength else {
                return .invalid("v2 address block of family 0x\(hex(b[13])) needs \(addressLength) bytes, header has \(total - 16)")
            }
        default:
            return .invalid("v2 address family and protocol byte 0x\(hex(b[13])) is not a defined combination")
        }
        if let problem = checkTLVs(header, from: 16 + addressLength) { return .invalid(problem) }
        return .parsed(ProxyProtocolHeader(version: .v2, source: source, destination: destination, length: total))
    }

    /// The TLVs after the addresses must tile the rest of the header exactly (type, 16-bit
    /// length, value). Their contents are ignored, except PP2_TYPE_CRC32C, which a receiver
    /// that supports it "MUST" verify (RFC 4960 appendix B's CRC32c over the whole header
    /// with the checksum field zeroed).
    private static func checkTLVs(_ header: UnsafeRawBufferPointer, from start: Int) -> String? {
        var p = start
        while p < header.count {
            guard p + 3 <= header.count else { return "v2 TLV header truncated at byte \(p)" }
            let type = header[p], length = Int(header[p + 1]) << 8 | Int(header[p + 2])
            guard p + 3 + length <= header.count else { return "v2 TLV of type 0x\(hex(type)) runs past the header" }
            if type == 0x03 {
                guard length == 4 else { return "v2 CRC32C TLV must hold 4 bytes, found \(length)" }
                let sent = UInt32(header[p + 3]) << 24 | UInt32(header[p + 4]) << 16 | UInt32(header[p + 5]) << 8 | UInt32(header[p + 6])
                guard CRC32C.checksum(header, zeroing: (p + 3)..<(p + 7)) == sent else { return "v2 CRC32C checksum does not match" }
            }
            p += 3 + length
        }
        return nil
    }

    private static func ipv4(_ b: UnsafeRawBufferPointer, at i: Int) -> IPAddress {
        let v = (0..<4).reduce(UInt64(0)) { $0 << 8 | UInt64(b[i + $1]) }
        return IPAddress(family: .ipv4, high: 0, low: v)
    }

    /// An IPv4-mapped address reads as the IPv4 it maps, as a dual-stack socket's peer does.
    private static func ipv6(_ b: UnsafeRawBufferPointer, at i: Int) -> IPAddress {
        let high = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(b[i + $1]) }
        let low = (8..<16).reduce(UInt64(0)) { $0 << 8 | UInt64(b[i + $1]) }
        return IPAddress(family: .ipv6, high: high, low: low).unmapped
    }

    private static func port(_ b: UnsafeRawBufferPointer, at i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }

    private static func hex(_ byte: UInt8) -> String { (byte < 16 ? "0" : "") + String(byte, radix: 16) }
}

/// CRC32c (Castagnoli), reflected, as RFC 4960 appendix B computes it.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Over `bytes`, reading the bytes in `zeroing` as 0.
    static func checksum(_ bytes: UnsafeRawBufferPointer, zeroing: Range<Int> = 0..<0) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for (i, byte) in bytes.enumerated() {
            let b = zeroing.contains(i) ? 0 : byte
            crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}
