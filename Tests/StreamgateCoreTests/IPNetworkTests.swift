import Testing
@testable import StreamgateCore

/// CIDR parsing and matching for `trust_forwarded`: what is trusted must be exactly what the
/// operator wrote, for IPv4, IPv6 and IPv4 peers seen through a dual-stack socket.
@Suite struct IPNetworkTests {
    func network(_ text: String) throws -> IPNetwork { try IPNetwork.parse(text).get() }
    func ip(_ text: String) throws -> IPAddress { try #require(IPAddress(text), "\(text)") }

    @Test func addressesParseAndPrintInCanonicalForm() throws {
        #expect(try ip("10.1.2.3").description == "10.1.2.3")
        #expect(try ip("10.1.2.3").family == .ipv4)
        #expect(try ip("::1").description == "::1")
        #expect(try ip("::").description == "::")
        #expect(try ip("2001:DB8:0:0:1:0:0:1").description == "2001:db8::1:0:0:1", "first longest zero run (RFC 5952)")
        #expect(try ip("2001:db8::").description == "2001:db8::")
        #expect(try ip("1:2:3:4:5:6:7:8").description == "1:2:3:4:5:6:7:8")
        #expect(try ip("1:0:3:4:5:6:7:8").description == "1:0:3:4:5:6:7:8", "a single zero group is not compressed")
        #expect(try ip("64:ff9b::192.0.2.33").description == "64:ff9b::c000:221")
    }

    @Test func ipv4MappedAddressesAreIPv4() throws {
        #expect(try ip("::ffff:10.1.2.3") == ip("10.1.2.3"))
        #expect(try ip("::FFFF:0a01:0203") == ip("10.1.2.3"))
        #expect(try ip("::ffff:10.1.2.3").family == .ipv4)
        // Not mapped: the IPv4-compatible form and other prefixes stay IPv6.
        #expect(try ip("::10.1.2.3").family == .ipv6)
        #expect(try ip("::fffe:10.1.2.3").family == .ipv6)
    }

    @Test func badAddressesAreRefused() {
        for bad in ["", "-", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
                    ":", ":::", "1:2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "::g",
                    "1:", ":1", "1:::2", "fe80::1%eth0", "[::1]", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5",
                    "1:2:3:4:5:6:7:1.2.3.4", "localhost"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv4Networks() throws {
        let n = try network("10.0.0.0/8")
        #expect(n.description == "10.0.0.0/8")
        #expect(try n.contains(ip("10.0.0.0")))
        #expect(try n.contains(ip("10.255.255.255")))
        #expect(try !n.contains(ip("11.0.0.0")))
        #expect(try !n.contains(ip("9.255.255.255")))
        #expect(try network("192.168.1.0/25").contains(ip("192.168.1.127")))
        #expect(try !network("192.168.1.0/25").contains(ip("192.168.1.128")))
    }

    @Test func hostNetworksMatchOneAddress() throws {
        let v4 = try network("127.0.0.1/32")
        #expect(try v4.contains(ip("127.0.0.1")))
        #expect(try !v4.contains(ip("127.0.0.2")))
        #expect(try network("127.0.0.1") == v4, "a bare address is that one host")
        let v6 = try network("::1/128")
        #expect(try v6.contains(ip("::1")))
        #expect(try !v6.contains(ip("::2")))
        #expect(try !v6.contains(ip("127.0.0.1")))
        #expect(try network("::1") == v6)
    }

    @Test func zeroPrefixMatchesItsWholeFamilyOnly() throws {
        let all4 = try network("0.0.0.0/0"), all6 = try network("::/0")
        #expect(try all4.contains(ip("203.0.113.9")))
        #expect(try all4.contains(ip("::ffff:203.0.113.9")), "an IPv4 peer on a dual-stack socket")
        #expect(try !all4.contains(ip("2001:db8::1")))
        #expect(try all6.contains(ip("2001:db8::1")))
        #expect(try !all6.contains(ip("203.0.113.9")), "::/0 does not take in IPv4 peers")
        #expect(try !all6.contains(ip("::ffff:203.0.113.9")))
    }

    @Test func ipv6Networks() throws {
        let n = try network("2001:db8:abcd:12::/64")
        #expect(try n.contains(ip("2001:db8:abcd:12:ffff:ffff:ffff:ffff")))
        #expect(try !n.contains(ip("2001:db8:abcd:13::")))
        let short = try network("2001:db8::/33")
        #expect(try short.contains(ip("2001:db8:7fff::1")))
        #expect(try !short.contains(ip("2001:db8:8000::1")))
        let long = try network("fd00::ff00/120")
        #expect(try long.contains(ip("fd00::ffff")))
        #expect(try !long.contains(ip("fd00::1ff")))
    }

    @Test func mappedNetworksAreTheirIPv4Blocks() throws {
        let n = try network("::ffff:10.0.0.0/104")
        #expect(n == (try network("10.0.0.0/8")))
        #expect(try n.contains(ip("10.9.8.7")))
        #expect(try n.contains(ip("::ffff:10.9.8.7")))
        #expect(try !n.contains(ip("11.0.0.1")))
        #expect(try network("::ffff:10.1.2.3") == network("10.1.2.3/32"))
        // A v4 network matches the mapped form of its addresses, and only those.
        #expect(try network("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")))
        #expect(try !network("10.0.0.0/8").contains(ip("::10.1.2.3")))
    }

    @Test func badNetworksSayWhatIsWrong() {
        func reason(_ text: String) -> String? {
            if case .failure(let e) = IPNetwork.parse(text) { return e.reason }
            return nil
        }
        let address = "expected an IPv4 or IPv6 address, optionally followed by /prefix-length"
        for bad in ["", "/8", "10.0.0/8", "10.0.0.0.0/8", "example.com/8", "10.0.0.0 /8", "[::1]/128", "fe80::%1/64"] {
            #expect(reason(bad) == address, "\(bad)")
        }
        #expect(reason("10.0.0.0/33") == "the prefix length must be a number from 0 to 32")
        #expect(reason("::/129") == "the prefix length must be a number from 0 to 128")
        for bad in ["10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/0008", "10.0.0.0/a"] {
            #expect(reason(bad) == "the prefix length must be a number from 0 to 32", "\(bad)")
        }
        #expect(reason("10.1.2.3/8") == "bits are set past the /8 prefix: write the network address 10.0.0.0/8, or a longer prefix")
        #expect(reason("2001:db8::1/32") == "bits are set past the /32 prefix: write the network address 2001:db8::/32, or a longer prefix")
        #expect(reason("::ffff:10.1.2.3/104") != nil)
        #expect(reason("0.0.0.1/0") != nil)
    }

    @Test func trustedProxiesDecidePerPeerText() throws {
        let trusted = TrustedProxies([try network("10.0.0.0/8"), try network("::1/128")])
        #expect(trusted.trusts(peer: "10.4.5.6"))
        #expect(trusted.trusts(peer: "::ffff:10.4.5.6"))
        #expect(trusted.trusts(peer: "::1"))
        #expect(!trusted.trusts(peer: "127.0.0.1"))
        #expect(!trusted.trusts(peer: "-"), "an unknown peer is never trusted")
        #expect(!trusted.trusts(peer: ""))
        #expect(!TrustedProxies.none.trusts(peer: "10.4.5.6"))
        #expect(trusted.description == "10.0.0.0/8, ::1/128")
    }
}
