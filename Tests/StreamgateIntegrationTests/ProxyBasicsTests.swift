import Foundation
import Testing
@testable import Streamgate

/// The core proxy against a scripted upstream: every byte on both sides is checked.
@Suite struct ProxyBasicsTests {
    @Test func getIsForwardedWithForwardingHeadersAndHopByHopRemoved() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /hello?x=1&y=2 HTTP/1.1\r\nHost: example.test\r\nConnection: keep-alive, X-Secret\r\nX-Secret: drop-me\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Forwarded-For: 6.6.6.6\r\nX-Keep: yes\r\n\r\n")
        let u = try up.accept()
        let head = try u.readHead()
        #expect(head.hasPrefix("GET /hello?x=1&y=2 HTTP/1.1\r\n"))
        #expect(head.contains("X-Keep: yes\r\n"))
        #expect(!head.lowercased().contains("x-secret"))
        #expect(!head.lowercased().contains("keep-alive"))
        #expect(!head.lowercased().contains("\r\nte:"))
        #expect(!head.contains("6.6.6.6"), "an untrusted client must not choose X-Forwarded-For")
        #expect(head.contains("X-Forwarded-For: 127.0.0.1\r\n"))
        #expect(head.contains("X-Forwarded-Proto: http\r\n"))
        #expect(head.contains("X-Forwarded-Host: example.test\r\n"))
        #expect(head.contains("Forwarded: for=127.0.0.1;host=example.test;proto=http\r\n"))
        #expect(head.contains("Host: example.test\r\n"))
        let rid = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-request-id:") }
        #expect(rid != nil)
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Up-Secret\r\nX-Up-Secret: 1\r\n\r\nhello")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "hello")
        #expect(r.header("x-up-secret") == nil)
        #expect(r.header("x-request-id") == rid.map { String($0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) })
        let log = gw.accessLog()
        #expect(log.count == 1)
        #expect(log.first?["path"] as? String == "/hello", "the access log never carries the query")
        #expect(log.first?["status"] as? Int == 200)
        #expect(log.first?["route"] as? String == "all")
        #expect(log.first?["upstream"] as? String == "127.0.0.1:\(up.port)")
        #expect(!gw.accessLogText.contains("x=1"))
    }

    @Test func validClientRequestIdIsKeptInvalidOneReplaced() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc-123\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().contains("X-Request-Id: abc-123\r\n"))
        u.send("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try c.readResponse().header("x-request-id") == "abc-123")
        c.send("GET /a HTTP/1.1\r\nHost: h\r\nX-Request-Id: bad id with spaces\r\n\r\n")
        let u2 = try up.accept() // a 204 ends at its head: its connection is never reused
        let head = try u2.readHead()
        #expect(!head.contains("bad id"))
        u2.send("HTTP/1.1 204 No Content\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.header("x-request-id") != nil && r.header("x-request-id") != "bad id with spaces")
    }

    @Test func postWithContentLengthBodyIsStreamedExactly() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        let body = [UInt8]((0..<200_000).map { UInt8($0 % 251) })
        c.send(Array("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
        c.send(body)
        let u = try up.accept()
        let head = try u.readHead()
        #expect(head.contains("Content-Length: \(body.count)\r\n"))
        #expect(try u.readExactly(body.count) == body)
        u.send("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        let r = try c.readResponse()
        #expect(r.status == 201 && r.bodyText == "ok")
        #expect(gw.accessLog().first?["bytes_in"] as? Int == body.count)
    }

    @Test func postWithChunkedBodyIsRechunkedWithoutExtensionsOrTrailers() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        let u = try up.accept()
        let head = try u.readHead()
        #expect(head.contains("Transfer-Encoding: chunked\r\n"))
        #expect(!head.lowercased().contains("content-length"))
        let expected = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        #expect(String(decoding: try u.readExactly(expected.utf8.count), as: UTF8.self) == expected)
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
    }

    @Test func keepAliveReusesBothConnectionsAndPipelinedResponsesStayInOrder() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        for i in 1...3 {
            let head = try u.readHead()
            #expect(head.hasPrefix("GET /\(i) HTTP/1.1"))
            u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\(i)")
        }
        for i in 1...3 {
            let r = try c.readResponse()
            #expect(r.bodyText == "\(i)")
        }
        #expect(!up.hasPendingConnection(timeout: 0.05), "one pooled upstream connection served all three")
    }

    @Test func notFoundAndMethodNotAllowedAreJSON() throws {
        let up = try ScriptedUpstream()
        let toml = """
        [upstreams.up]
        targets = ["127.0.0.1:\(up.port)"]
        [[routes]]
        name = "only-get"
        path = "/thing"
        methods = ["GET", "POST"]
        upstream = "up"
        """
        let gw = try GatewayHarness(toml: toml)
        let c = try gw.client()
        c.send("GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n")
        let r404 = try c.readResponse()
        #expect(r404.status == 404)
        #expect(r404.header("content-type") == "application/json")
        #expect(r404.bodyText.contains("\"error\":\"not_found\""))
        c.send("DELETE /thing HTTP/1.1\r\nHost: h\r\n\r\n")
        let r405 = try c.readResponse()
        #expect(r405.status == 405)
        #expect(r405.header("allow") == "GET, HEAD, POST")
        #expect(!up.hasPendingConnection(timeout: 0.05))
    }

    @Test func refusedUpstreamIs502() throws {
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: unusedPort()))
        let c = try gw.client()
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 502)
        #expect(r.bodyText.contains("bad_gateway"))
        #expect(gw.errorLogText.contains("refused"))
    }

    @Test func upstreamClosingWithoutAnswerIs502() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
        let u = try up.accept()
        _ = try u.readHead()
        u.reset()
        #expect(try c.readResponse().status == 502)
    }

    @Test func silentUpstreamIs504() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "read_timeout = \"300ms\""))
        let c = try gw.client()
        c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        let r = try c.readResponse()
        #expect(r.status == 504)
        #expect(gw.errorLogText.contains("timed out"))
        _ = u
    }

    @Test func chunkedAndCloseDelimitedResponsesReachTheClientChunked() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
        let r1 = try c.readResponse()
        #expect(r1.chunked && r1.bodyText == "abcde")
        c.send("GET /eof HTTP/1.1\r\nHost: h\r\n\r\n")
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\n\r\nuntil-close")
        u.shutdownWrite()
        let r2 = try c.readResponse()
        #expect(r2.chunked && r2.bodyText == "until-close")
    }

    @Test func upstreamTruncatingABodyAbortsTheClient() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-some")
        u.shutdownWrite()
        let (bytes, _, _) = c.readToEnd()
        #expect(HTTPTestResponse.parse(bytes) == nil, "a truncated body must not look complete")
        #expect(String(decoding: bytes, as: UTF8.self).contains("only-some"))
    }

    @Test func slowClientPausesTheUpstream() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, extra: "[limits]\nclient_buffer = \"64KiB\""))
        let c = try gw.client(timeout: 10)
        c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept(timeout: 5)
        _ = try u.readHead()
        let total = 64 * 1024 * 1024
        u.send("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\n\r\n")
        // Non-blocking writes until the kernel refuses: the gateway has stopped reading.
        let flags = fcntl(u.fd, F_GETFL)
        _ = fcntl(u.fd, F_SETFL, flags | O_NONBLOCK)
        let block = [UInt8](repeating: 0x61, count: 64 * 1024)
        var written = 0
        var stalls = 0
        while written < total && stalls < 50 {
            let n = block.withUnsafeBytes { send(u.fd, $0.baseAddress, min($0.count, total - written), Int32(MSG_NOSIGNAL)) }
            if n > 0 { written += n; stalls = 0 } else {
                stalls += 1
                var pfd = pollfd(fd: u.fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 20)
            }
        }
        #expect(written < 16 * 1024 * 1024, "the gateway kept reading from the upstream for a client that reads nothing (\(written) bytes)")
        // Now the client reads everything; the upstream must be able to finish.
        _ = fcntl(u.fd, F_SETFL, flags)
        let ufd = dup(u.fd)  // the thread's own descriptor: `u` may close first
        let start = written
        let sender = Thread {
            defer { close(ufd) }
            var off = start
            while off < total {
                let n = block.withUnsafeBytes { send(ufd, $0.baseAddress, min($0.count, total - off), Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                off += n
            }
        }
        sender.start()
        _ = try c.readHead()
        let received = c.buffer.count + c.discard(upTo: total - c.buffer.count)
        #expect(received == total)
    }
}
