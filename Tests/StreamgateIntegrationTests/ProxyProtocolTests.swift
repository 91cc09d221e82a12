import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `proxy_protocol = true` on a listener: every connection opens with a PROXY header (v1 or
/// v2) whose source address is the client's for forwarding, the access log and per-IP
/// limits; a connection without a valid one is closed with nothing sent and nothing
/// forwarded. Every test client connects from 127.0.0.1 and claims other addresses.
@Suite struct ProxyProtocolTests {
    static let request = "GET /a HTTP/1.1\r\nHost: gw.test\r\n\r\n"

    /// A v2 PROXY header for TCP over IPv4 or IPv6 (`command` 0 = LOCAL).
    static func v2(command: UInt8 = 1, source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        let family: UInt8 = source.count == 4 ? 0x11 : 0x21
        let body = source + destination + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
        return [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20 | command, family, 0, UInt8(body.count)] + body
    }

    static let v6Source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]  // 2001:db8::7

    final class Rig {
        let upstream: RecordingUpstream
        let gateway: GatewayHarness

        init(listenerExtra: String = "proxy_protocol = true", extra: String = "") throws {
            upstream = try RecordingUpstream()
            gateway = try GatewayHarness(toml: simpleConfig(upstreamPort: upstream.port, extra: extra), listenerExtra: listenerExtra)
        }

        /// Sends `bytes` on a new connection and reads one response.
        func exchange(_ bytes: [UInt8]) throws -> (RawClient, HTTPTestResponse) {
            let c = try gateway.client()
            c.send(bytes)
            return (c, try c.readResponse())
        }

        /// Sends `bytes`; expects the gateway to close without writing a byte.
        func expectClosedSilently(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let c = try gateway.client()
            c.send(bytes)
            let (received, cleanEOF, error) = c.readToEnd()
            #expect(cleanEOF || error == ECONNRESET, "not closed (errno \(error))", sourceLocation: sourceLocation)
            #expect(received.isEmpty, "the gateway wrote: \(String(decoding: received, as: UTF8.self).prefix(200))", sourceLocation: sourceLocation)
        }
    }

    @Test func v1SourceAddressIsTheClientUpstreamAndInTheLog() throws {
        let rig = try Rig()
        let (c, r) = try rig.exchange(Array(("PROXY TCP4 203.0.113.7 10.0.0.5 50000 443\r\n" + Self.request).utf8))
        #expect(r.status == 200)
        let seen = try #require(rig.upstream.requests.last)
        #expect(seen.values("x-forwarded-for") == ["203.0.113.7"])
        #expect(seen.header("forwarded") == "for=203.0.113.7;host=gw.test;proto=http")
        // Every request of the connection carries it; the header is read once.
        c.send(Self.request)
        #expect(try c.readResponse().status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "203.0.113.7")
        let log = rig.gateway.accessLog(minLines: 2)
        #expect(log.count == 2 && log.allSatisfy { $0["client"] as? String == "203.0.113.7" }, "\(log)")
    }

    @Test func v2IPv4AndIPv6SourceAddresses() throws {
        let rig = try Rig()
        let v4 = Self.v2(source: [198, 51, 100, 23], destination: [10, 0, 0, 5], sourcePort: 40000, destinationPort: 443)
        #expect(try rig.exchange(v4 + Array(Self.request.utf8)).1.status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "198.51.100.23")

        let v6 = Self.v2(source: Self.v6Source, destination: [UInt8](repeating: 0, count: 15) + [1], sourcePort: 1, destinationPort: 2)
        #expect(try rig.exchange(v6 + Array(Self.request.utf8)).1.status == 200)
        let seen = try #require(rig.upstream.requests.last)
        #expect(seen.header("x-forwarded-for") == "2001:db8::7")
        #expect(seen.header("forwarded") == "for=\"[2001:db8::7]\";host=gw.test;proto=http")
        let clients = rig.gateway.accessLog(minLines: 2).compactMap { $0["client"] as? String }
        #expect(clients == ["198.51.100.23", "2001:db8::7"])
    }

    /// v2 LOCAL (a balancer's health check) and v1 UNKNOWN: the connection's own peer.
    @Test func localAndUnknownKeepTheTCPPeer() throws {
        let rig = try Rig()
        let local = Self.v2(command: 0, source: [192, 0, 2, 1], destination: [192, 0, 2, 2], sourcePort: 1, destinationPort: 2)
        #expect(try rig.exchange(local + Array(Self.request.utf8)).1.status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "127.0.0.1")
        #expect(try rig.exchange(Array(("PROXY UNKNOWN\r\n" + Self.request).utf8)).1.status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "127.0.0.1")
        #expect(rig.gateway.accessLog(minLines: 2).compactMap { $0["client"] as? String } == ["127.0.0.1", "127.0.0.1"])
    }

    /// No header, or a malformed one: closed with no response, nothing forwarded, and the
    /// reason in the error log.
    @Test func missingOrMalformedHeaderClosesTheConnectionSilently() throws {
        let rig = try Rig()
        try rig.expectClosedSilently(Array(Self.request.utf8))
        try rig.expectClosedSilently(Array(("PROXY TCP4 203.0.113.7 10.0.0.5 050000 443\r\n" + Self.request).utf8))
        try rig.expectClosedSilently(Array(("PROXY TCP4 203.0.113.7 10.0.0.5 50000 443\n" + Self.request).utf8))
        var badSignature = Self.v2(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], sourcePort: 1, destinationPort: 2)
        badSignature[9] = 0
        try rig.expectClosedSilently(badSignature + Array(Self.request.utf8))
        var huge = Self.v2(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], sourcePort: 1, destinationPort: 2)
        huge[14] = 0xFF
        try rig.expectClosedSilently(huge)
        try rig.expectClosedSilently([0x16, 0x03, 0x01, 0x00, 0x05])  // a TLS ClientHello
        #expect(rig.upstream.requests.isEmpty, "nothing was forwarded")
        #expect(rig.gateway.accessLog(minLines: 0).isEmpty, "no request was read, so none was logged")
        #expect(waitUntil { rig.gateway.errorLogText.contains("PROXY protocol header from 127.0.0.1 refused: not a PROXY protocol header") },
                "error log:\n\(rig.gateway.errorLogText)")
    }

    /// A header that never completes is refused at `header_timeout`, counted from the accept.
    @Test func incompleteHeaderIsRefusedAtTheHeaderTimeout() throws {
        let rig = try Rig(extra: "[limits]\nheader_timeout = \"300ms\"")
        let c = try rig.gateway.client()
        c.send("PROXY TCP4 203.0.113.7 10.0")
        let start = Date()
        let (received, cleanEOF, error) = c.readToEnd()
        #expect(cleanEOF || error == ECONNRESET, "closed at the timeout (errno \(error) after \(Date().timeIntervalSince(start)) s)")
        #expect(received.isEmpty)
        #expect(rig.upstream.requests.isEmpty)
        #expect(waitUntil { rig.gateway.errorLogText.contains("no complete header within header_timeout") }, "\(rig.gateway.errorLogText)")
    }

    /// `max_connections_per_ip` counts the addresses the headers name, not the balancer's.
    @Test func perIPLimitAppliesToTheProxiedAddress() throws {
        let rig = try Rig(extra: "[limits]\nmax_connections_per_ip = 1")
        let (a, ra) = try rig.exchange(Array(("PROXY TCP4 198.51.100.1 10.0.0.5 1000 443\r\n" + Self.request).utf8))
        let (b, rb) = try rig.exchange(Array(("PROXY TCP4 198.51.100.2 10.0.0.5 1001 443\r\n" + Self.request).utf8))
        #expect(ra.status == 200 && rb.status == 200, "two clients behind one balancer address")
        try rig.expectClosedSilently(Array(("PROXY TCP4 198.51.100.1 10.0.0.5 1002 443\r\n" + Self.request).utf8))
        #expect(rig.upstream.requests.count == 2, "the third connection's request was not forwarded")
        withExtendedLifetime((a, b)) {}
    }

    /// `trust_forwarded` is decided on the proxied client: a trusted one extends the chain,
    /// and the balancer's own address (the TCP peer) earns nothing.
    @Test func trustIsDecidedOnTheProxiedAddress() throws {
        let rig = try Rig(listenerExtra: "proxy_protocol = true\ntrust_forwarded = [\"198.51.100.0/24\"]")
        let chained = "GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n"
        #expect(try rig.exchange(Array(("PROXY TCP4 198.51.100.9 10.0.0.5 1 443\r\n" + chained).utf8)).1.status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "203.0.113.1, 198.51.100.9")
        #expect(try rig.exchange(Array(("PROXY TCP4 203.0.113.50 10.0.0.5 1 443\r\n" + chained).utf8)).1.status == 200)
        #expect(rig.upstream.requests.last?.header("x-forwarded-for") == "203.0.113.50", "an untrusted client's chain is replaced")

        let peerTrusted = try Rig(listenerExtra: "proxy_protocol = true\ntrust_forwarded = [\"127.0.0.1\"]")
        #expect(try peerTrusted.exchange(Array(("PROXY TCP4 203.0.113.50 10.0.0.5 1 443\r\n" + chained).utf8)).1.status == 200)
        #expect(peerTrusted.upstream.requests.last?.header("x-forwarded-for") == "203.0.113.50",
                "the balancer speaks PROXY protocol, not HTTP forwarding headers")
    }

    /// Without `proxy_protocol` a PROXY header is just a malformed request.
    @Test func plainListenerAnswersAProxyHeaderWith400() throws {
        let rig = try Rig(listenerExtra: "")
        let (_, r) = try rig.exchange(Array(("PROXY TCP4 203.0.113.7 10.0.0.5 50000 443\r\n" + Self.request).utf8))
        #expect(r.status == 400)
        let (_, r2) = try rig.exchange(Self.v2(source: [1, 2, 3, 4], destination: [5, 6, 7, 8], sourcePort: 1, destinationPort: 2)
                                       + Array(Self.request.utf8))
        #expect(r2.status == 400)
        #expect(rig.upstream.requests.isEmpty)
    }
}
