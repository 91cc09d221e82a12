import Testing
@testable import StreamgateCore

/// The PROXY protocol header parser (HAProxy's "The PROXY protocol", v1 and v2): a table of
/// valid and invalid headers, each also fed at every split point, since the parser is called
/// again after every read.
@Suite struct ProxyProtocolHeaderTests {
    typealias Header = ProxyProtocolHeader

    static func endpoint(_ ip: String, _ port: UInt16) -> Header.Endpoint {
        Header.Endpoint(address: IPAddress(ip)!, port: port)
    }

    /// A v2 header: signature, version/command, family/protocol, length, then `body`.
    static func v2(command: UInt8 = 0x1, family: UInt8, body: [UInt8], version: UInt8 = 2, length: Int? = nil) -> [UInt8] {
        let n = length ?? body.count
        return Header.v2Signature + [version << 4 | command, family, UInt8(n >> 8), UInt8(n & 0xFF)] + body
    }

    static let ipv4Body: [UInt8] = [203, 0, 113, 7, 10, 0, 0, 5, 0xC3, 0x50, 0x01, 0xBB]  // 203.0.113.7:50000 -> 10.0.0.5:443
    static let ipv6Body: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x01]
        + [0xFD, 0x00] + [UInt8](repeating: 0, count: 13) + [0x02] + [0x30, 0x39, 0x00, 0x50]  // [2001:db8::1]:12345 -> [fd00::2]:80

    /// Parses `bytes` followed by request bytes, whole and cut at every offset: every cut
    /// inside the header needs more (or is already invalid, for invalid headers), and the
    /// whole answer does not depend on what follows the header.
    func parseEverySplit(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Header.ParseResult {
        let whole = Header.parse(bytes)
        let followed = Header.parse(bytes + Array("GET / HTTP/1.1\r\n".utf8))
        #expect(followed == whole || whole == .needMore, "the bytes after the header changed the result", sourceLocation: sourceLocation)
        for k in 0..<bytes.count {
            let prefix = Header.parse(Array(bytes[..<k]))
            switch whole {
            case .parsed, .needMore:
                #expect(prefix == .needMore, "prefix of \(k) bytes: \(prefix)", sourceLocation: sourceLocation)
            case .invalid:
                // A prefix may be refused already (with the same reason) or still undecided.
                #expect(prefix == .needMore || prefix == whole, "prefix of \(k) bytes: \(prefix), whole: \(whole)", sourceLocation: sourceLocation)
            }
        }
        return whole
    }

    // MARK: - Version 1

    @Test func v1ValidLines() {
        let cases: [(String, Header.Endpoint?, Header.Endpoint?)] = [
            ("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Self.endpoint("192.168.0.1", 56324), Self.endpoint("192.168.0.11", 443)),
            ("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", Self.endpoint("255.255.255.255", 65535), Self.endpoint("255.255.255.255", 65535)),
            ("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", Self.endpoint("0.0.0.0", 0), Self.endpoint("0.0.0.0", 0)),
            ("PROXY TCP6 2001:db8::1 2001:DB8::2 1 2\r\n", Self.endpoint("2001:db8::1", 1), Self.endpoint("2001:db8::2", 2)),
            ("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
             Self.endpoint("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), Self.endpoint("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)),
            ("PROXY TCP6 ::ffff:198.51.100.9 ::1 8080 80\r\n", Self.endpoint("198.51.100.9", 8080), Self.endpoint("::1", 80)),
            ("PROXY UNKNOWN\r\n", nil, nil),
            ("PROXY UNKNOWN ffff:f...f:ffff whatever comes 1 2\r\n", nil, nil),
            ("PROXY UNKNOWN " + String(repeating: "x", count: 91) + "\r\n", nil, nil),  // 107 bytes exactly
        ]
        for (line, source, destination) in cases {
            let bytes = Array(line.utf8)
            #expect(parseEverySplit(bytes) == .parsed(Header(version: .v1, source: source, destination: destination, length: bytes.count)), "\(line)")
        }
        #expect(Self.endpoint("::ffff:198.51.100.9", 1).address.family == .ipv4, "a mapped address is the IPv4 it maps")
        #expect(Self.endpoint("2001:db8::1", 1).description == "[2001:db8::1]:1")
    }

    @Test func v1InvalidLines() {
        let cases: [(String, String)] = [
            ("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "v1 line ends in a bare LF"),
            ("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX", "v1 line has a CR not followed by LF"),
            ("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n", "v1 line must have 5 fields after PROXY, found 6"),
            ("PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n", "v1 line must have 5 fields after PROXY, found 6"),
            ("PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", "v1 line must have 5 fields after PROXY, found 4"),
            ("PROXY  TCP4 192.168.0.1 192.168.0.11 1 2\r\n", "v1 protocol must be TCP4, TCP6 or UNKNOWN"),
            ("PROXY TCP5 192.168.0.1 192.168.0.11 1 2\r\n", "v1 protocol must be TCP4, TCP6 or UNKNOWN"),
            ("PROXY tcp4 192.168.0.1 192.168.0.11 1 2\r\n", "v1 protocol must be TCP4, TCP6 or UNKNOWN"),
            ("PROXY UNKNOWNX\r\n", "v1 protocol must be TCP4, TCP6 or UNKNOWN"),
            ("PROXY \r\n", "v1 protocol must be TCP4, TCP6 or UNKNOWN"),
            ("PROXY TCP4 192.168.000.1 192.168.0.11 1 2\r\n", "v1 address is not a valid IPv4 address"),
            ("PROXY TCP4 256.1.1.1 192.168.0.11 1 2\r\n", "v1 address is not a valid IPv4 address"),
            ("PROXY TCP4 ::1 192.168.0.11 1 2\r\n", "v1 address is not a valid IPv4 address"),
            ("PROXY TCP6 192.168.0.1 ::1 1 2\r\n", "v1 address is not a valid IPv6 address"),
            ("PROXY TCP6 ::1 1::2::3 1 2\r\n", "v1 address is not a valid IPv6 address"),
            ("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "v1 address is not a valid IPv6 address"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 0443 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 00 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 123456 443\r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 80 \r\n", "v1 port must be a decimal number from 0 to 65535 without leading zeros"),
            ("PROXY UNKNOWN " + String(repeating: "x", count: 92) + "\r\n", "v1 line has no CRLF within 107 bytes"),  // 108 bytes
            ("PROXY UNKNOWN " + String(repeating: "x", count: 200), "v1 line has no CRLF within 107 bytes"),
            ("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY protocol header"),
            ("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY protocol header"),
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "not a PROXY protocol header"),
            ("PRI * HTTP/2.0\r\n\r\n", "not a PROXY protocol header"),
            ("\u{16}\u{03}\u{01}\u{02}\u{00}", "not a PROXY protocol header"),
        ]
        for (line, reason) in cases {
            #expect(parseEverySplit(Array(line.utf8)) == .invalid(reason), "\(line.debugDescription)")
        }
    }

    /// Up to 107 bytes without a CRLF is still a header in progress; the 107th settles it.
    @Test func v1WaitsForTheCRLFWithinTheBound() {
        let partial = Array(("PROXY UNKNOWN " + String(repeating: "x", count: 92)).utf8)
        #expect(partial.count == 106)
        #expect(Header.parse(partial) == .needMore)
        #expect(Header.parse(partial + [0x0D]) == .invalid("v1 line has no CRLF within 107 bytes"), "a CR in the 107th byte leaves no room for the LF")
        #expect(Header.parse(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r".utf8)) == .needMore, "a CR at the end may be followed by LF")
        #expect(Header.parse([]) == .needMore)
        #expect(Header.parse(Array("PRO".utf8)) == .needMore)
    }

    // MARK: - Version 2

    @Test func v2ValidHeaders() {
        let v4 = Self.v2(family: 0x11, body: Self.ipv4Body)
        #expect(parseEverySplit(v4) == .parsed(Header(version: .v2, source: Self.endpoint("203.0.113.7", 50000),
                                                       destination: Self.endpoint("10.0.0.5", 443), length: 28)))
        let v6 = Self.v2(family: 0x21, body: Self.ipv6Body)
        #expect(parseEverySplit(v6) == .parsed(Header(version: .v2, source: Self.endpoint("2001:db8::1", 12345),
                                                       destination: Self.endpoint("fd00::2", 80), length: 52)))
        let mapped = Self.v2(family: 0x21, body: [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 1] + [UInt8](repeating: 0, count: 15) + [1, 0, 1, 0, 2])
        guard case .parsed(let m) = Header.parse(mapped) else { Issue.record("mapped: \(Header.parse(mapped))"); return }
        #expect(m.source == Self.endpoint("192.0.2.1", 1), "an IPv4-mapped source is the IPv4 address")

        // TLVs after the addresses are skipped: ALPN, authority, a NOOP, a custom AWS-style one.
        let tlvs: [UInt8] = [0x01, 0x00, 0x02, 0x68, 0x32] + [0x02, 0x00, 0x03] + Array("a.b".utf8) + [0x04, 0x00, 0x00]
            + [0xEA, 0x00, 0x05, 0x01] + Array("vpce".utf8)
        let withTLVs = Self.v2(family: 0x11, body: Self.ipv4Body + tlvs)
        #expect(parseEverySplit(withTLVs) == .parsed(Header(version: .v2, source: Self.endpoint("203.0.113.7", 50000),
                                                             destination: Self.endpoint("10.0.0.5", 443), length: withTLVs.count)))
    }

    /// LOCAL (health checks), UNSPEC, UDP and UNIX: valid, and the connection's own endpoints apply.
    @Test func v2HeadersThatKeepTheRealEndpoints() {
        let cases: [(String, [UInt8])] = [
            ("LOCAL, no addresses", Self.v2(command: 0, family: 0x00, body: [])),
            ("LOCAL with an IPv4 block it must skip", Self.v2(command: 0, family: 0x11, body: Self.ipv4Body)),
            ("LOCAL with a short address block", Self.v2(command: 0, family: 0x11, body: [1, 2, 3])),
            ("PROXY, UNSPEC", Self.v2(family: 0x00, body: [])),
            ("PROXY, UNSPEC with bytes to ignore", Self.v2(family: 0x00, body: [9, 9, 9, 9])),
            ("UDP over IPv4", Self.v2(family: 0x12, body: Self.ipv4Body)),
            ("UDP over IPv6", Self.v2(family: 0x22, body: Self.ipv6Body)),
            ("UNIX stream", Self.v2(family: 0x31, body: [UInt8](repeating: 0x2F, count: 216))),
            ("UNIX datagram with a TLV", Self.v2(family: 0x32, body: [UInt8](repeating: 0, count: 216) + [0x04, 0x00, 0x01, 0x00])),
        ]
        for (name, bytes) in cases {
            #expect(parseEverySplit(bytes) == .parsed(Header(version: .v2, source: nil, destination: nil, length: bytes.count)), "\(name)")
        }
    }

    @Test func v2InvalidHeaders() {
        var badSignature = Self.v2(family: 0x11, body: Self.ipv4Body)
        badSignature[8] = 0x56
        let cases: [(String, [UInt8], String)] = [
            ("wrong signature", badSignature, "not a PROXY protocol header"),
            ("HTTP after a blank line", Array("\r\n\r\nGET / HTTP/1.1\r\n".utf8), "not a PROXY protocol header"),
            ("version 1 in the binary form", Self.v2(family: 0x11, body: Self.ipv4Body, version: 1), "v2 version must be 2, found 1"),
            ("version 3", Self.v2(family: 0x11, body: Self.ipv4Body, version: 3), "v2 version must be 2, found 3"),
            ("command 2", Self.v2(command: 2, family: 0x11, body: Self.ipv4Body), "v2 command must be LOCAL or PROXY, found 2"),
            ("command 15", Self.v2(command: 0xF, family: 0x11, body: Self.ipv4Body), "v2 command must be LOCAL or PROXY, found 15"),
            ("family 4", Self.v2(family: 0x41, body: Self.ipv4Body), "v2 address family and protocol byte 0x41 is not defined"),
            ("protocol 3", Self.v2(family: 0x13, body: Self.ipv4Body), "v2 address family and protocol byte 0x13 is not defined"),
            ("IPv4 without a protocol", Self.v2(family: 0x10, body: Self.ipv4Body), "v2 address family and protocol byte 0x10 is not a defined combination"),
            ("UNSPEC family with STREAM", Self.v2(family: 0x01, body: []), "v2 address family and protocol byte 0x01 is not a defined combination"),
            ("IPv4 block too short", Self.v2(family: 0x11, body: Array(Self.ipv4Body.prefix(11))), "v2 TCP/IPv4 address block needs 12 bytes, header has 11"),
            ("IPv6 block too short", Self.v2(family: 0x21, body: Self.ipv4Body), "v2 TCP/IPv6 address block needs 36 bytes, header has 12"),
            ("UNIX block too short", Self.v2(family: 0x31, body: [UInt8](repeating: 0, count: 108)), "v2 address block of family 0x31 needs 216 bytes, header has 108"),
            ("truncated TLV header", Self.v2(family: 0x11, body: Self.ipv4Body + [0x04, 0x00]), "v2 TLV header truncated at byte 28"),
            ("TLV past the header", Self.v2(family: 0x11, body: Self.ipv4Body + [0x02, 0x00, 0x09, 0x61]), "v2 TLV of type 0x02 runs past the header"),
            ("huge length", Self.v2(family: 0x11, body: Self.ipv4Body, length: 0xFFFF), "v2 header of 65551 bytes is longer than the 4096 accepted"),
            ("just over the bound", Self.v2(family: 0x00, body: [], length: 4081), "v2 header of 4097 bytes is longer than the 4096 accepted"),
        ]
        for (name, bytes, reason) in cases {
            #expect(parseEverySplit(bytes) == .invalid(reason), "\(name)")
        }
        // Refused as soon as the offending byte arrives, not after the whole header.
        #expect(Header.parse(Array(Self.v2(command: 2, family: 0x11, body: []).prefix(13))) == .invalid("v2 command must be LOCAL or PROXY, found 2"))
        #expect(Header.parse(Array(Self.v2(family: 0x11, body: [], length: 0xFFFF).prefix(16))) == .invalid("v2 header of 65551 bytes is longer than the 4096 accepted"))
        #expect(Header.parse(Array(Header.v2Signature.prefix(5))) == .needMore)
        // The largest accepted header is waited for in full.
        let largest = Self.v2(family: 0x00, body: [UInt8](repeating: 7, count: 4080))
        #expect(largest.count == Header.v2MaxLength)
        #expect(Header.parse(Array(largest.dropLast())) == .needMore)
        #expect(Header.parse(largest) == .parsed(Header(version: .v2, source: nil, destination: nil, length: 4096)))
    }

    /// PP2_TYPE_CRC32C: verified over the whole header with the checksum field zeroed.
    @Test func v2ChecksumIsVerified() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283, "the RFC 4960 / iSCSI check value")
        var bytes = Self.v2(family: 0x11, body: Self.ipv4Body + [0x03, 0x00, 0x04, 0, 0, 0, 0])
        let crc = CRC32C.checksum(bytes)
        bytes.replaceSubrange((bytes.count - 4)..., with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        guard case .parsed(let h) = parseEverySplit(bytes) else { Issue.record("checksummed header refused: \(Header.parse(bytes))"); return }
        #expect(h.source == Self.endpoint("203.0.113.7", 50000))
        var corrupted = bytes
        corrupted[16] ^= 1  // the source address
        #expect(Header.parse(corrupted) == .invalid("v2 CRC32C checksum does not match"))
        let wrongSize = Self.v2(family: 0x11, body: Self.ipv4Body + [0x03, 0x00, 0x02, 0, 0])
        #expect(Header.parse(wrongSize) == .invalid("v2 CRC32C TLV must hold 4 bytes, found 2"))
    }

    /// The parser never needs more than `maxLength` bytes to decide, whatever it is fed.
    @Test func decisionWithinTheBound() {
        for seed: UInt8 in [0x00, 0x0D, 0x50, 0xFF] {
            var bytes = [UInt8](repeating: seed, count: Header.maxLength)
            if seed == 0x0D { bytes = Header.v2Signature + [0x20, 0x00, 0x0F, 0xF0] + [UInt8](repeating: 0, count: Header.maxLength - 16) }
            if seed == 0x50 { bytes = Array("PROXY UNKNOWN ".utf8) + [UInt8](repeating: 0x61, count: Header.maxLength - 14) }
            #expect(Header.parse(bytes) != .needMore, "seed \(seed)")
        }
    }
}
