import Foundation
import Testing
@testable import Streamgate

/// A listener's `trust_forwarded` decides, per TCP peer, whether the client's forwarding chain
/// is extended or replaced; the upstream's exact header list is checked for both. Every client
/// here connects from 127.0.0.1.
@Suite struct ForwardingTrustTests {
    /// The upstream's header lines in order (request line and the final blank line dropped).
    static func fields(_ head: String) -> [String] {
        Array(head.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty })
    }

    /// A chain as a proxy in front would send it, plus underscore spellings that must never be read.
    static let request = "GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: rid-7\r\n"
        + "X-Forwarded-For: 203.0.113.7\r\nx_forwarded_for: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.2\r\n"
        + "Forwarded: for=203.0.113.7;proto=https\r\nX-Forwarded-Proto: https\r\nX_Forwarded_Proto: ftp\r\n"
        + "X-Forwarded-Host: public.example\r\nX_Forwarded_Host: evil.test\r\nAccept: */*\r\n\r\n"

    /// Sends `request` through a gateway whose listener has `listenerExtra`; returns the upstream's fields.
    func upstreamFields(listenerExtra: String) throws -> [String] {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: listenerExtra)
        let c = try gw.client()
        c.send(Self.request)
        let u = try up.accept()
        let fields = Self.fields(try u.readHead())
        u.send("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try c.readResponse().status == 204)
        return fields
    }

    @Test func trustedPeerExtendsTheChainReadFromDashedNamesOnly() throws {
        #expect(try upstreamFields(listenerExtra: "trust_forwarded = [\"10.0.0.0/8\", \"127.0.0.1/32\"]") == [
            "Accept: */*",
            "X-Forwarded-For: 203.0.113.7, 10.0.0.2, 127.0.0.1",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: public.example",
            "Forwarded: for=203.0.113.7;proto=https, for=127.0.0.1;host=gw.test;proto=http",
            "X-Request-Id: rid-7",
            "Host: gw.test",
        ])
    }

    /// The same request from a peer outside the list: nothing the client said about earlier hops survives.
    @Test func untrustedPeerChainIsReplaced() throws {
        let replaced = [
            "Accept: */*",
            "X-Forwarded-For: 127.0.0.1",
            "X-Forwarded-Proto: http",
            "X-Forwarded-Host: gw.test",
            "Forwarded: for=127.0.0.1;host=gw.test;proto=http",
            "X-Request-Id: rid-7",
            "Host: gw.test",
        ]
        #expect(try upstreamFields(listenerExtra: "trust_forwarded = [\"10.0.0.0/8\", \"::1/128\", \"127.0.0.2\"]") == replaced)
        #expect(try upstreamFields(listenerExtra: "") == replaced, "the default trusts nobody")
    }

    /// A trusted peer is a property of the connection, not of one request: every request on a
    /// kept-alive connection is extended, and only the dashed chain of each one is read.
    @Test func trustHoldsForEveryRequestOnTheConnection() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: "trust_forwarded = [\"127.0.0.0/8\"]")
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n")
        let u = try up.accept()
        #expect(Self.fields(try u.readHead()).first == "X-Forwarded-For: 198.51.100.1, 127.0.0.1")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        c.send("GET /b HTTP/1.1\r\nHost: gw.test\r\nX_Forwarded_For: 198.51.100.2\r\n\r\n")
        #expect(Self.fields(try u.readHead()).first == "X-Forwarded-For: 127.0.0.1", "the pooled upstream connection carries the second request")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
    }
}
