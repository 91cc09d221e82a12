import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Upstreams that are slow, broken or hostile in ways a gateway must bound: floods of interim
/// responses, transfer codings a client must see, and targets that refuse connections.
@Suite struct UpstreamMisbehaviourTests {
    private static let earlyHints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"

    /// Interim heads are relayed up to a bound; one more makes the upstream a broken one (502),
    /// not a source of unbounded gateway memory.
    @Test func interimResponsesAreBounded() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /hints HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send(String(repeating: Self.earlyHints, count: 11))
        var interim = 0
        var final: HTTPTestResponse?
        while final == nil {
            let r = try c.readResponse()
            if r.status / 100 == 1 { interim += 1 } else { final = r }
        }
        #expect(interim == 10, "ten interim heads reach the client")
        expectGatewayError(final, status: 502, close: false)
        #expect(u.readUntilClosed().cleanEOF, "the flooding upstream connection is closed")
    }

    /// A flood far past the bound, sent as fast as the socket takes it: the gateway stops
    /// reading at once and the client gets ten interim heads and a 502, nothing more.
    @Test func interimFloodCostsNoMoreThanTheBound() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /flood HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        let flood = Array(String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 1_500_000).utf8)
        let sender = BackgroundSender(fd: u.fd, bytes: flood)
        var statuses: [Int] = []
        while statuses.last.map({ $0 / 100 == 1 }) ?? true { statuses.append(try c.readResponse().status) }
        #expect(statuses == Array(repeating: 100, count: 10) + [502])
        #expect(c.bytesArriving(within: 0.05).isEmpty)
        withExtendedLifetime(u) { #expect(sender.wait(), "the gateway closed the flooding connection") }
        #expect(sender.sent < flood.count, "the gateway stopped reading long before the flood ended")
    }

    /// `read_timeout` holds from the request to the final response: interim heads trickling in
    /// do not extend it (each read would re-arm the socket's own timeout).
    @Test func interimTrickleDoesNotExtendTheReadTimeout() throws {
        let up = try ScriptedUpstream()
        let toml = """
        [gateway]
        workers = 1
        drain_timeout = "2s"
        [upstreams.up]
        targets = ["127.0.0.1:\(up.port)"]
        read_timeout = "400ms"
        [[routes]]
        name = "all"
        path_prefix = "/"
        upstream = "up"
        """
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client()
        c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        // Nine heads 150 ms apart, then the final response at about 1.35 s: well past the
        // 400 ms read_timeout, although no gap between two reads reaches it.
        // The writer outlives this test's assertions (the 504 comes first): it writes on its
        // own duplicate of the socket, never on a descriptor number that `u` closes and
        // another test's socket may take next (that would inject these heads there).
        let fd = dup(u.fd)
        let writer = Thread {
            defer { Glibc.close(fd) }
            func write(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            for _ in 0..<9 {
                write(Self.earlyHints)
                usleep(150_000)
            }
            write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
        }
        writer.start()
        var final: HTTPTestResponse?
        while final == nil {
            let r = try c.readResponse()
            if r.status / 100 != 1 { final = r }
        }
        expectGatewayError(final, status: 504, close: false)
        _ = u.readUntilClosed()
    }

    /// `Transfer-Encoding: gzip, chunked`: the gateway re-chunks, and gzip stays on the header
    /// (RFC 9112 §7): a client told only `chunked` would take coded bytes for the content.
    @Test func transferCodingsBeforeChunkedReachTheClient() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /coded HTTP/1.1\r\nHost: h\r\nTE: gzip\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        let coded: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x0D, 0x0A, 0x30]
        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\(String(coded.count, radix: 16))\r\n")
        u.send(coded + Array("\r\n0\r\n\r\n".utf8))
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.headerValues("transfer-encoding") == ["gzip, chunked"])
        #expect(r.body == coded, "the coded bytes pass unchanged")
    }

    /// A coding without chunked: the body runs to the upstream's close, and the client still
    /// learns the coding (the gateway adds the chunked framing it needs).
    @Test func transferCodingWithoutChunkedIsKept() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /coded HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nCODED")
        u.shutdownWrite()
        let r = try c.readResponse()
        #expect(r.headerValues("transfer-encoding") == ["gzip, chunked"])
        #expect(r.bodyText == "CODED")
    }

    /// HTTP/1.0 has no Transfer-Encoding (RFC 9112 §6.1): a coded response cannot reach such a
    /// client intact, so it gets a 502 rather than bytes it would misread.
    @Test func transferCodedResponseToAnHTTP10ClientIsBadGateway() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /coded HTTP/1.0\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nCODED\r\n0\r\n\r\n")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 502, close: true)
    }

    /// An event stream with a content coding is relayed byte for byte: a keepalive comment
    /// written into gzip data would corrupt it.
    @Test func codedEventStreamGetsNoGatewayBytes() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "keepalive = \"10ms\"\nretry = \"2s\""))
        let c = try gw.client()
        c.send("GET /events HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\nGZ")
        // Well past several keepalive periods before the rest of the body comes.
        let head = try c.readHead()
        #expect(head.contains("Content-Encoding: gzip\r\n"))
        _ = c.bytesArriving(within: 0.1)
        #expect(c.buffer == Array("GZ".utf8), "no keepalive, no retry hint")
        u.send("DATA")
        try c.readUntil { $0.count >= 6 }
        #expect(c.buffer == Array("GZDATA".utf8))
    }

    /// `localhost` is `::1` first on Debian 12; an upstream listening on 127.0.0.1 only is
    /// still reached (the next address is tried), and later requests go there directly.
    @Test func hostNameTargetTriesEveryAddress() throws {
        let up = try ScriptedUpstream()
        let toml = simpleConfig(upstreamPort: up.port).replacingOccurrences(of: "\"127.0.0.1:\(up.port)\"", with: "\"localhost:\(up.port)\"")
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client()
        for i in 0..<3 {
            c.send("GET /n/\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
            let u = try up.accept()
            #expect(try u.readHead().hasPrefix("GET /n/\(i) "))
            u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            #expect(try c.readResponse().bodyText == "ok")
        }
        let log: String = gw.errorLogText
        let refusals = log.components(separatedBy: "refused").count - 1
        #expect(refusals <= 1, "once one address works it is tried first: \(refusals) refusals")
    }

    /// A target that refuses: the request goes to the next target (it never left the gateway,
    /// so even a POST with no body sent yet may), and only all refusing makes a 502.
    @Test func refusedTargetFailsOverToTheNext() throws {
        let dead = try ReservedPort()
        let up = try ScriptedUpstream()
        let toml = simpleConfig(upstreamPort: up.port).replacingOccurrences(
            of: "[\"127.0.0.1:\(up.port)\"]", with: "[\"127.0.0.1:\(dead.port)\", \"127.0.0.1:\(up.port)\"]")
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client()
        for i in 0..<4 {
            c.send("POST /p/\(i) HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
            let u = try up.accept()
            #expect(try u.readHead().hasPrefix("POST /p/\(i) "))
            u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            #expect(try c.readResponse().status == 200, "request \(i)")
        }
        let log: String = gw.errorLogText
        #expect(log.contains("127.0.0.1:\(dead.port) refused"), "the refusal is logged: \(log)")
    }

    @Test func everyTargetRefusingIsBadGateway() throws {
        let a = try ReservedPort(), b = try ReservedPort()
        let toml = simpleConfig(upstreamPort: a.port).replacingOccurrences(
            of: "[\"127.0.0.1:\(a.port)\"]", with: "[\"127.0.0.1:\(a.port)\", \"localhost:\(b.port)\"]")
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client()
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        expectGatewayError(try c.readResponse(), status: 502, close: false)
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        expectGatewayError(try c.readResponse(), status: 502, close: false)
    }

    // MARK: - Faults mid-exchange

    @Test func resetInTheMiddleOfTheHeadIs502() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /half HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Le")
        u.reset()
        expectGatewayError(try c.readResponse(), status: 502, close: false)
        c.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        _ = try u2.readHead()
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try c.readResponse().bodyText == "ok", "the client connection survives the upstream's failure")
    }

    /// A pooled connection that starts an answer and then resets counts as stale: the GET is
    /// retried on a fresh connection, whose response is parsed from a clean parser, not
    /// appended to the half head the dead connection left behind.
    @Test func retryAfterAHalfHeadOnAPooledConnectionParsesAFreshHead() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /one HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
        #expect(try c.readResponse().bodyText == "one")
        c.send("GET /two HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try u.readHead().hasPrefix("GET /two "), "the pooled connection is reused")
        u.send("HTTP/1.1 200 OK\r\nContent-Le")
        u.reset()
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /two "), "retried on a fresh connection")
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "two")
    }

    @Test func garbageInsteadOfAResponseIs502() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("SSH-2.0-OpenSSH_9.2\r\n\r\n")
        expectGatewayError(try c.readResponse(), status: 502, close: false)
        #expect(u.readUntilClosed().cleanEOF)
    }

    /// Bytes after a complete response are a protocol error: the client gets exactly its
    /// response, and the connection is closed rather than pooled with the extra bytes in it.
    @Test func bytesAfterACompleteResponseCloseTheConnection() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /one HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nFORGED")
        let r = try c.readResponse()
        #expect(r.bodyText == "ok")
        #expect(u.readUntilClosed().cleanEOF, "not pooled")
        c.send("GET /two HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /two "))
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
        #expect(try c.readResponse().bodyText == "two")
    }

    /// One stream's upstream resets (an RST, not a FIN: a FIN is the normal end of a stream
    /// without framing): that client sees an abort (no terminating chunk), and a stream beside
    /// it on the same worker keeps flowing.
    @Test func upstreamResetMidStreamAbortsOnlyThatStream() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
        let a = try SSETestClient(port: gw.port, path: "/a", readHead: false)
        let ua = try up.accept()
        _ = try ua.readHead()
        ua.send(sseHead + "data: a1\n\n")
        try a.readHead()
        let b = try SSETestClient(port: gw.port, path: "/b", readHead: false)
        let ub = try up.accept()
        _ = try ub.readHead()
        ub.send(sseHead + "data: b1\n\n")
        try b.readHead()
        try a.read(events: 1)
        try b.read(events: 1)
        ua.send("data: a2-partial")
        ua.closeWithReset()
        a.readToEnd()
        #expect(a.ending != .terminatingChunk, "an upstream reset must not look like a clean end")
        #expect(a.events.map(\.data) == ["a1"], "the partial event is not delivered as complete")
        ub.send("data: b2\n\n")
        try b.read(events: 2)
        #expect(b.events.map(\.data) == ["b1", "b2"])
        #expect(!b.isFinished)
    }
}

/// A loopback port that refuses connections: bound (so nobody else takes it) but not listening.
final class ReservedPort {
    let fd: Int32
    let port: UInt16

    init() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(s); throw TestError("bind failed: errno \(errno)") }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        fd = s
        port = UInt16(bigEndian: bound.sin_port)
    }

    deinit { Glibc.close(fd) }
}
