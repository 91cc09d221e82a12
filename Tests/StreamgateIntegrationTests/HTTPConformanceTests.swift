import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One request the gateway must refuse, and the status it must answer with.
struct RefusedRequest: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let status: Int
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ status: Int = 400) {
        self.name = name; self.bytes = Array(text.utf8); self.status = status
    }
}

/// An upstream response the gateway must not relay: the client gets a 502 instead.
struct BrokenResponse: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: String
    var testDescription: String { name }
    init(_ name: String, _ bytes: String) { self.name = name; self.bytes = bytes }
}

/// RFC 9112 / 9110 conformance of the whole gateway on real sockets (REFERENCES.md, "HTTP/1.1
/// parsing"). The parser has its own unit tests; these check what reaches the client, that the
/// connection is closed after a framing fault, and that nothing of a refused request (or of what
/// follows it) reaches the upstream.
@Suite struct HTTPConformanceTests {
    // MARK: - Refused request heads

    static let longHead = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "v", count: 33 * 1024) + "\r\n\r\n"
    static let manyFields = "GET / HTTP/1.1\r\nHost: h\r\n" + (0..<101).map { "X-F\($0): v\r\n" }.joined() + "\r\n"

    static let refusedHeads: [RefusedRequest] = [
        // Bare CR (RFC 9112 §2.2) and whitespace before the first field.
        .init("bare CR inside a field line", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\rX-B: 2\r\n\r\n"),
        .init("bare CR ending a field line", "GET / HTTP/1.1\r\nHost: h\rX-B: 2\r\n\r\n"),
        .init("bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("bare CR ending the request line", "GET / HTTP/1.1\rHost: h\r\n\r\n"),
        .init("SP before the first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
        .init("HTAB before the first field", "GET / HTTP/1.1\r\n\tX-A: 1\r\nHost: h\r\n\r\n"),
        // Request line (RFC 9112 §3).
        .init("two SP after the method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("SP after the version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n"),
        .init("HTAB as separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("leading SP", " GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("no version (HTTP/0.9)", "GET /\r\nHost: h\r\n\r\n"),
        .init("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n"),
        .init("SP inside the target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("fragment in the target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("target too long", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        .init("method too long", String(repeating: "M", count: 40) + " / HTTP/1.1\r\nHost: h\r\n\r\n", 501),
        .init("method too long, no SP yet", String(repeating: "M", count: 9000), 501),
        // Field lines (RFC 9112 §5, RFC 9110 §5.5, §5.6.2).
        .init("SP before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n"),
        .init("HTAB before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\t: 1\r\n\r\n"),
        .init("field name with (", "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n"),
        .init("field name with @", "GET / HTTP/1.1\r\nHost: h\r\nX@A: 1\r\n\r\n"),
        .init("empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n"),
        .init("field line without colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n"),
        .init("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n"),
        .init("obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n"),
        .init("LF inside a value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\nb\r\n\r\n"),
        .init("NUL inside a value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{0}b\r\n\r\n"),
        .init("DEL inside a value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}b\r\n\r\n"),
        // Size limits (RFC 9110 §5.4, RFC 6585 §5).
        .init("head too large", longHead, 431),
        .init("too many fields", manyFields, 431),
        // Framing (RFC 9112 §6).
        .init("Content-Length and Transfer-Encoding",
              "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        .init("Transfer-Encoding and Content-Length",
              "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"),
        .init("chunked, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
        .init("chunked in two fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        .init("chunked not final", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
        .init("no chunked at all", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
        .init("chunked with a parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n"),
        .init("unknown coding before chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x-custom, chunked\r\n\r\n0\r\n\r\n", 501),
        .init("gzip before chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        .init("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        .init("differing Content-Length fields", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        .init("differing Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!"),
        .init("negative Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
        .init("Content-Length with a sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello"),
        .init("Content-Length not a number", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\nhello"),
        .init("empty Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n"),
        .init("Content-Length overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        // Host (RFC 9112 §3.2).
        .init("missing Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"),
        .init("two Host fields", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"),
        .init("two identical Host fields", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n"),
        .init("Host with SP", "GET / HTTP/1.1\r\nHost: a test\r\n\r\n"),
        .init("Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n"),
        .init("Host with a bad port", "GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n"),
        .init("Host with a percent escape", "GET / HTTP/1.1\r\nHost: a%2etest\r\n\r\n"),
        .init("empty Host, origin-form", "GET / HTTP/1.1\r\nHost: \r\n\r\n"),
        .init("invalid Host beside absolute-form", "GET http://a.test/ HTTP/1.1\r\nHost: a b\r\n\r\n"),
        // Target forms (RFC 9112 §3.2.2-4).
        .init("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
        .init("authority-form with GET", "GET a.test:80 HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        .init("CONNECT", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", 501),
        .init("absolute-form with another scheme", "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        .init("absolute-form with userinfo", "GET http://user@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"),
        .init("version 2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ]

    /// Every refused head: a small JSON error with `Connection: close`, then FIN with nothing
    /// after the response, and no upstream connection at all.
    @Test(arguments: refusedHeads)
    func refusedRequestHead(_ c: RefusedRequest) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let client = try gw.client(timeout: 3)
        client.send(c.bytes)
        let t = client.readUntilClosed()
        expectGatewayError(t.response, status: c.status, close: true, c.name)
        #expect(t.cleanEOF, "closed with FIN after the response (errno \(t.error)): \(t.text.prefix(200))")
        #expect(t.trailingBytes == 0, "nothing after the final response")
        #expect(!up.hasPendingConnection(timeout: 0.05), "a refused request never reaches the upstream")
    }

    /// A refused request with a body behind it: the body is never parsed as a next request.
    @Test func refusedRequestWithPipelinedSmuggleAttemptGetsOneResponse() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 400, close: true)
        #expect(t.trailingBytes == 0, "the smuggled request got no response of its own")
        #expect(t.cleanEOF)
        #expect(!up.hasPendingConnection(timeout: 0.05))
    }

    // MARK: - Refused request bodies (the head was valid and is already on its way upstream)

    static let refusedBodies: [RefusedRequest] = [
        .init("chunk size overflow", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n"),
        .init("chunk size with 17 leading zeros", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000001\r\nx\r\n0\r\n\r\n"),
        .init("oversized chunk extension",
              "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;e=" + String(repeating: "a", count: 5000) + "\r\nx\r\n0\r\n\r\n"),
        .init("chunk size not hex", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n"),
        .init("chunk size line ending in bare LF", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n"),
        .init("chunk data without CRLF", "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy0\r\n\r\n"),
    ]

    /// Body framing faults: 400 + close; the upstream (which got the head) is cut off before a
    /// complete body, so it cannot act on a request the client never finished.
    @Test(arguments: refusedBodies)
    func refusedRequestBody(_ c: RefusedRequest) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let client = try gw.client(timeout: 3)
        client.send(c.bytes)
        let t = client.readUntilClosed()
        expectGatewayError(t.response, status: c.status, close: true, c.name)
        #expect(t.cleanEOF, "closed with FIN after the response (errno \(t.error))")
        #expect(t.trailingBytes == 0)
        if up.hasPendingConnection(timeout: 0.05) {
            let u = try up.accept(timeout: 1)
            u.setTimeout(2)
            let (seen, closed, err) = u.readToEnd()
            let text = String(decoding: seen, as: UTF8.self)
            #expect(closed || err == ECONNRESET, "the gateway drops the upstream connection")
            #expect(!text.contains("\r\n0\r\n\r\n"), "the upstream never sees a complete body: \(text.prefix(300))")
        }
    }

    // MARK: - Pipelining (RFC 9112 §9.3.2)

    /// A valid request, then one with a framing fault hiding a second request: the first is
    /// answered, the second refused, and nothing after it is forwarded.
    @Test func pipelinedRequestAfterARefusedOneNeverReachesTheUpstream() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            + "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /1 HTTP/1.1\r\n"))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let r1 = try c.readResponse()
        #expect(r1.status == 200 && r1.bodyText == "ok")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 400, close: true)
        #expect(t.trailingBytes == 0)
        #expect(t.cleanEOF)
        // The client connection is closed: whatever the gateway was going to forward, it has.
        let late = u.bytesArriving(within: 0.1)
        #expect(!String(decoding: late, as: UTF8.self).contains("smuggled"))
        #expect(!String(decoding: late, as: UTF8.self).contains("/2"))
        #expect(!up.hasPendingConnection(timeout: 0.02))
    }

    /// Same with a head fault (bare CR) in the middle request.
    @Test func pipelinedBareCRRequestStopsTheConnection() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\rX: y\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /1 HTTP/1.1\r\n"))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try c.readResponse().status == 200)
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 400, close: true)
        #expect(t.trailingBytes == 0 && t.cleanEOF)
        #expect(u.bytesArriving(within: 0.1).isEmpty, "nothing after the refused request is forwarded")
        #expect(!up.hasPendingConnection(timeout: 0.02))
    }

    /// A chunked body whose framing breaks midway: what was decoded may have gone upstream,
    /// but the request after the break never does, and the upstream connection is dropped.
    @Test func pipelinedRequestHiddenAfterBrokenChunkedBodyNeverReachesTheUpstream() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 400, close: true)
        #expect(t.trailingBytes == 0 && t.cleanEOF)
        let u = try up.accept()
        u.setTimeout(2)
        let (seen, closed, err) = u.readToEnd()
        let text = String(decoding: seen, as: UTF8.self)
        // The gateway may drop the connection before its connect completes: nothing at all is fine.
        #expect(text.isEmpty || text.hasPrefix("POST /2 HTTP/1.1\r\n"))
        #expect(!text.contains("smuggled"))
        #expect(!text.contains("\r\n0\r\n\r\n"), "the broken body is never completed towards the upstream")
        #expect(closed || err == ECONNRESET)
        #expect(!up.hasPendingConnection(timeout: 0.02))
    }

    /// Responses leave in request order even when the gateway could answer a later request
    /// (a 404) before the upstream answers an earlier one.
    @Test func pipelinedResponsesStayInOrderAcrossGatewayAndUpstreamAnswers() throws {
        let up = try ScriptedUpstream()
        let toml = """
        [gateway]
        workers = 1
        drain_timeout = "2s"
        [upstreams.up]
        targets = ["127.0.0.1:\(up.port)"]
        [[routes]]
        name = "p"
        path_prefix = "/p/"
        upstream = "up"
        """
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client(timeout: 3)
        c.send("GET /p/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /nothing HTTP/1.1\r\nHost: h\r\n\r\nHEAD /nothing HTTP/1.1\r\nHost: h\r\n\r\nGET /p/3 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /p/1 "))
        #expect(c.bytesArriving(within: 0.1).isEmpty, "no response may overtake the one still owed for /p/1")
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n1\r\n0\r\n\r\n")
        let r1 = try c.readResponse()
        #expect(r1.status == 200 && r1.bodyText == "1")
        let r2 = try c.readResponse()
        expectGatewayError(r2, status: 404, close: false)
        let h3 = try c.readHead()
        #expect(h3.hasPrefix("HTTP/1.1 404 "), "HEAD gets the 404 head without a body")
        #expect(try u.readHead().hasPrefix("GET /p/3 "))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3")
        let r4 = try c.readResponse()
        #expect(r4.status == 200 && r4.bodyText == "3")
        #expect(c.buffer.isEmpty)
    }

    // MARK: - Absolute-form and Host (RFC 9112 §3.2.2)

    private static func twoHostConfig(a: UInt16, b: UInt16) -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "2s"
        [upstreams.a]
        targets = ["127.0.0.1:\(a)"]
        [upstreams.b]
        targets = ["127.0.0.1:\(b)"]
        [[routes]]
        name = "route-a"
        host = "a.test"
        path_prefix = "/"
        upstream = "a"
        [[routes]]
        name = "route-b"
        host = "b.test"
        path_prefix = "/"
        upstream = "b"
        """
    }

    /// Control case: origin-form is routed by Host.
    @Test func originFormIsRoutedByHost() throws {
        let a = try ScriptedUpstream(), b = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.twoHostConfig(a: a.port, b: b.port))
        let c = try gw.client()
        c.send("GET /x HTTP/1.1\r\nHost: B.test\r\n\r\n")
        let u = try b.accept()
        let head = try u.readHead()
        #expect(head.lowercased().contains("\r\nhost: b.test\r\n"))
        u.send("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try c.readResponse().status == 204)
        #expect(!a.hasPendingConnection(timeout: 0.02))
    }

    /// The authority of an absolute-form target chooses the route, and the upstream sees it as
    /// Host and X-Forwarded-Host; the client's conflicting Host is not what the upstream sees.
    @Test
    func absoluteFormAuthorityOverridesHostForRoutingAndUpstreamHeaders() throws {
        let a = try ScriptedUpstream(), b = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.twoHostConfig(a: a.port, b: b.port))
        let c = try gw.client()
        c.send("GET http://A.test:8080/x/y?q=1 HTTP/1.1\r\nHost: b.test\r\n\r\n")
        let u = try a.accept()
        let head = try u.readHead()
        #expect(head.hasPrefix("GET /x/y?q=1 HTTP/1.1\r\n"), "origin-form towards the upstream: \(head)")
        let fields = head.split(separator: "\r\n").dropFirst().map { $0.lowercased() }
        #expect(fields.filter { $0.hasPrefix("host:") } == ["host: a.test:8080"],
                "a proxy generates Host from the absolute-form target (RFC 9112 §3.2.2): \(head)")
        #expect(fields.contains("x-forwarded-host: a.test:8080"), "\(head)")
        #expect(!head.lowercased().contains("b.test"), "the overridden Host must not travel on: \(head)")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
        let r = try c.readResponse()
        #expect(r.status == 200 && r.bodyText == "a")
        #expect(gw.accessLog().first?["route"] as? String == "route-a")
        #expect(!b.hasPendingConnection(timeout: 0.02))
    }

    /// Absolute-form with an empty Host (allowed only then) is accepted and routed by authority.
    @Test
    func absoluteFormWithEmptyHostIsAccepted() throws {
        let a = try ScriptedUpstream(), b = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.twoHostConfig(a: a.port, b: b.port))
        let c = try gw.client()
        c.send("GET http://b.test/ HTTP/1.1\r\nHost: \r\n\r\n")
        let u = try b.accept()
        let head = try u.readHead()
        #expect(head.hasPrefix("GET / HTTP/1.1\r\n"))
        #expect(head.lowercased().contains("\r\nhost: b.test\r\n"), "\(head)")
        u.send("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try c.readResponse().status == 204)
    }

    /// `OPTIONS *` is a valid request line (whatever the routes then say about it).
    @Test func asteriskFormWithOptionsIsNotAParseError() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        // Either the gateway answers itself or it forwards: wait for whichever happens first.
        var fds = [pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: up.fd, events: Int16(POLLIN), revents: 0)]
        #expect(poll(&fds, 2, 5000) > 0)
        if fds[1].revents & Int16(POLLIN) != 0 {
            let u = try up.accept()
            #expect(try u.readHead().hasPrefix("OPTIONS * HTTP/1.1\r\n"))
            u.send("HTTP/1.1 204 No Content\r\n\r\n")
        }
        let r = try c.readResponse()
        #expect(r.status != 400 && r.status != 502, "got \(r.status)")
    }

    // MARK: - Broken upstream responses (502)

    static let brokenResponses: [BrokenResponse] = [
        .init("obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok"),
        .init("whitespace before the first field", "HTTP/1.1 200 OK\r\n X-A: 1\r\nContent-Length: 2\r\n\r\nok"),
        .init("invalid Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"),
        .init("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"),
        .init("differing Content-Length fields", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"),
        .init("differing Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok!"),
        .init("Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        .init("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        .init("chunked not final", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        .init("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        .init("bare CR in a field line", "HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nok"),
        .init("bare CR ending the status line", "HTTP/1.1 200 OK\rX-A: 1\r\nContent-Length: 2\r\n\r\nok"),
        .init("SP before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
        .init("NUL in a value", "HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\nContent-Length: 2\r\n\r\nok"),
        .init("not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"),
        .init("status out of range", "HTTP/1.1 999 What\r\nContent-Length: 2\r\n\r\nok"),
        .init("unsolicited 101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"),
    ]

    /// A broken upstream head: the client gets a JSON 502, the upstream connection is dropped
    /// (never pooled), and the client connection stays usable on a fresh upstream connection.
    @Test(arguments: brokenResponses)
    func brokenUpstreamResponseIs502(_ c: BrokenResponse) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let client = try gw.client(timeout: 3)
        client.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send(c.bytes)
        let r = try client.readResponse()
        expectGatewayError(r, status: 502, close: false, c.name)
        #expect(!r.bodyText.contains("ok"), "nothing of the broken response is relayed")
        u.setTimeout(2)
        #expect(u.waitForClose().closed, "the broken upstream connection is closed, not pooled")
        client.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /b "))
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let r2 = try client.readResponse()
        #expect(r2.status == 200 && r2.bodyText == "ok")
    }

    // MARK: - Closing with linger (RFC 9112 §9.6)

    /// After a 400 the client still reads the whole error, although it keeps sending 1 MB the
    /// gateway will never read as a request.
    @Test func errorResponseSurvivesAClientThatKeepsSending() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 5)
        c.setReceiveBuffer(4096)
        let junk = [UInt8](repeating: UInt8(ascii: "j"), count: 1 << 20)
        let sender = BackgroundSender(fd: c.fd, bytes: Array("GET / HTTP/1.1\r\nHost: h\r\nBad Field: 1\r\n\r\n".utf8) + junk)
        let t = c.readUntilClosed()
        withExtendedLifetime(c) { #expect(sender.wait(), "the sender was never released: the gateway neither read nor closed") }
        #expect(sender.sent > 100_000, "the client really kept sending after the bad request (\(sender.sent) bytes)")
        expectGatewayError(t.response, status: 400, close: true)
        #expect(t.trailingBytes == 0)
        #expect(t.cleanEOF || t.error == ECONNRESET, "the read ended on close, not on a timeout (errno \(t.error))")
        #expect(!up.hasPendingConnection(timeout: 0.02))
    }

    /// Same with a 431: the gateway stops parsing mid-head and the rest of the head plus more
    /// junk keeps coming.
    @Test func tooLargeHeadResponseSurvivesAClientThatKeepsSending() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 5)
        var bytes = Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8)
        for i in 0..<20_000 { bytes += Array("X-Filler-\(i): \(String(repeating: "v", count: 40))\r\n".utf8) }
        let sender = BackgroundSender(fd: c.fd, bytes: bytes)
        let t = c.readUntilClosed()
        withExtendedLifetime(c) { #expect(sender.wait()) }
        expectGatewayError(t.response, status: 431, close: true)
        #expect(t.cleanEOF || t.error == ECONNRESET, "errno \(t.error)")
    }

    // MARK: - HEAD, 100-continue, HTTP/1.0

    /// HEAD: the upstream's Content-Length is relayed, no body follows, and the client
    /// connection carries the next request correctly framed. The upstream connection is not
    /// reused: nothing tells whether the server will still write a body for the HEAD, and such
    /// bytes must never become the next request's response.
    @Test func headResponseHasNoBodyAndTheClientConnectionStaysUsable() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("HEAD /doc HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("HEAD /doc HTTP/1.1\r\n"))
        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n")
        let head = try c.readHead()
        #expect(head.hasPrefix("HTTP/1.1 200 "))
        #expect(head.contains("Content-Length: 1234\r\n"), "HEAD keeps the length the GET would have: \(head)")
        #expect(!head.lowercased().contains("connection: close"))
        #expect(c.bytesArriving(within: 0.05).isEmpty, "no body after a HEAD response")
        let upstreamSide = u.readUntilClosed()
        #expect(upstreamSide.cleanEOF && upstreamSide.bytes.isEmpty, "the upstream connection is closed after a HEAD response")
        c.send("GET /doc HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /doc HTTP/1.1\r\n"), "the next request goes on a new upstream connection")
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
        let r = try c.readResponse()
        #expect(r.status == 200 && r.bodyText == "body")
        #expect(c.buffer.isEmpty)
    }

    /// HEAD answered by an upstream that (wrongly but commonly) says chunked: still no body.
    @Test func headResponseWithChunkedHeaderHasNoBody() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        let head = try c.readHead()
        #expect(head.hasPrefix("HTTP/1.1 200 "))
        #expect(u.readUntilClosed().cleanEOF, "not reused after a HEAD response")
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET / HTTP/1.1\r\n"))
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let r = try c.readResponse()
        #expect(r.status == 200 && r.bodyText == "ok", "no stray body bytes between the two responses")
    }

    /// Expect: 100-continue: the upstream's interim 100 reaches the client, which only then
    /// sends its body; the final 200 follows.
    @Test func expectContinueRelaysTheInterimResponse() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let u = try up.accept()
        let head = try u.readHead()
        #expect(head.lowercased().contains("\r\nexpect: 100-continue\r\n"), "the upstream decides on 100: \(head)")
        u.send("HTTP/1.1 100 Continue\r\n\r\n")
        let interim = try c.readResponse()
        #expect(interim.status == 100)
        c.send("hello")
        #expect(try u.readExactly(5) == Array("hello".utf8))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        let r = try c.readResponse()
        #expect(r.status == 200 && r.bodyText == "done")
    }

    /// An HTTP/1.0 client cannot read chunked: the body arrives close-delimited.
    @Test func http10ClientGetsCloseDelimitedBodyFromChunkedUpstream() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("GET /old HTTP/1.0\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /old HTTP/1.1\r\n"))
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        let t = c.readUntilClosed()
        #expect(t.cleanEOF, "the end of the body is the close (errno \(t.error))")
        guard let r = t.response else { Issue.record("no response: \(t.text)"); return }
        #expect(r.status == 200)
        #expect(r.header("transfer-encoding") == nil)
        #expect(r.header("content-length") == nil)
        #expect(r.header("connection")?.lowercased() == "close")
        #expect(r.bodyText == "hello world", "raw body, no chunk framing: \(t.text)")
    }

    /// HTTP/1.0 with a Content-Length upstream response and no keep-alive: closed after it.
    @Test func http10ClientWithoutKeepAliveIsClosedAfterTheResponse() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client(timeout: 3)
        c.send("GET /old HTTP/1.0\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let t = c.readUntilClosed()
        #expect(t.response?.bodyText == "ok")
        #expect(t.response?.header("connection")?.lowercased() == "close")
        #expect(t.cleanEOF && t.trailingBytes == 0)
    }

    // MARK: - Timeouts

    /// One upstream for everything, `[limits]` as given, and a drain timeout long enough that
    /// a connection the gateway forgot shows up as a slow `stop()`.
    static func config(upstreamPort: UInt16, limits: String, drainTimeout: String = "3s") -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "\(drainTimeout)"
        [limits]
        \(limits)
        [upstreams.up]
        targets = ["127.0.0.1:\(upstreamPort)"]
        connect_timeout = "1s"
        read_timeout = "2s"
        [[routes]]
        name = "all"
        path_prefix = "/"
        upstream = "up"
        """
    }

    /// An idle keep-alive connection is closed after `keepalive_timeout`, silently.
    @Test func idleKeepAliveConnectionIsClosed() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(upstreamPort: up.port, limits: "keepalive_timeout = \"200ms\""))
        let c = try gw.client(timeout: 3)
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try c.readResponse().status == 200)
        let start = Date()
        let (closed, reset) = c.waitForClose()
        let elapsed = Date().timeIntervalSince(start)
        #expect(closed, "an idle connection must be closed")
        #expect(!reset)
        #expect(c.buffer.isEmpty, "an idle close sends no response")
        #expect(elapsed > 0.1 && elapsed < 2.5, "closed after \(elapsed)s")
    }

    /// A head that stops arriving gets a 408 after `header_timeout`, then the close.
    @Test func partialHeadGets408AfterHeaderTimeout() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(upstreamPort: up.port, limits: "header_timeout = \"200ms\"", drainTimeout: "300ms"))
        let c = try gw.client(timeout: 3)
        let start = Date()
        c.send("GET / HTTP/1.1\r\nHost: h\r\n")
        let t = c.readUntilClosed()
        let elapsed = Date().timeIntervalSince(start)
        expectGatewayError(t.response, status: 408, close: true)
        #expect(t.cleanEOF && t.trailingBytes == 0)
        #expect(elapsed > 0.1 && elapsed < 2.5, "answered after \(elapsed)s")
        #expect(!up.hasPendingConnection(timeout: 0.02))
    }

    /// After a refused request the client hangs up too: the lingering connection is released at
    /// once (stopping the gateway does not have to wait out the drain timeout for it).
    @Test func lingeringConnectionIsReleasedWhenTheClientHangsUp() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(upstreamPort: up.port, limits: "header_timeout = \"5s\""))
        let c = try gw.client(timeout: 3)
        c.send("GET / HTTP/1.1\r\nHost h\r\n\r\n")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 400, close: true)
        c.shutdownWrite()
        let start = Date()
        gw.stop()
        #expect(Date().timeIntervalSince(start) < 1.5, "stop() waited \(Date().timeIntervalSince(start))s for a closed connection")
    }

    /// Same after a 408: the read timeout must not leave the linger unable to read the FIN.
    @Test
    func connectionAnswered408IsReleasedWhenTheClientHangsUp() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(upstreamPort: up.port, limits: "header_timeout = \"200ms\""))
        let c = try gw.client(timeout: 3)
        c.send("GET / HTTP/1.1\r\nHost: h\r\n")
        let t = c.readUntilClosed()
        expectGatewayError(t.response, status: 408, close: true)
        c.shutdownWrite()
        let start = Date()
        gw.stop()
        #expect(Date().timeIntervalSince(start) < 1.5, "stop() waited \(Date().timeIntervalSince(start))s for a closed connection")
    }

    /// A head trickled in byte by byte must still be complete within `header_timeout`: the
    /// timeout is for the whole head, not per read (slowloris).
    @Test
    func trickledHeadStillTimesOut() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(upstreamPort: up.port, limits: "header_timeout = \"300ms\"", drainTimeout: "300ms"))
        let c = try gw.client(timeout: 3)
        let start = Date()
        let fd = c.fd
        let finished = DispatchSemaphore(value: 0)
        let trickle = Thread {
            defer { finished.signal() }
            for b in Array("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 200) {
                var byte = b
                if Glibc.send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) <= 0 { return }
                usleep(20_000)  // the attack itself, not synchronisation: one byte every 20 ms
                if Date().timeIntervalSince(start) > 2.5 { return }
            }
        }
        trickle.start()
        let t = c.readUntilClosed()
        let elapsed = Date().timeIntervalSince(start)
        expectGatewayError(t.response, status: 408, close: true)
        #expect(elapsed < 1.5, "the whole head had 0.3s; the 408 came after \(elapsed)s")
        withExtendedLifetime(c) {
            shutdown(fd, Int32(SHUT_RDWR))  // ends the trickle: its next send fails
            #expect(finished.wait(timeout: .now() + 3) == .success)
        }
    }
}
