import Testing
@testable import StreamgateCore

@Suite struct HTTPRequestHeadParserTests {
    // MARK: Representative messages through every split

    @Test func simpleGetAllDeliveries() throws {
        let h = try #require(parseRequest("GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: Example.COM:8080\r\nAccept: */*\r\n\r\n"))
        #expect(h.method == "GET")
        #expect(h.target == "/a/b?x=1&y=%20")
        #expect(h.version == .http1_1)
        #expect(h.path == "/a/b")
        #expect(h.query == "x=1&y=%20")
        #expect(h.authority == "example.com:8080")
        #expect(h.framing == BodyFraming.none)
        #expect(h.keepAlive)
        #expect(h.headers == HTTPHeaders([("Host", "Example.COM:8080"), ("Accept", "*/*")]))
    }

    @Test func headConsumesNothingPastTheBlankLine() {
        let text = "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n"
        for outcome in requestOutcomes(text) {
            guard case .head(let h, let rest) = outcome else { Issue.record("\(outcome)"); continue }
            #expect(h.framing == .contentLength(5))
            #expect(rest == "helloGET / HTTP/1.1\r\n".bytes)
        }
    }

    @Test func pipelinedRequestsParseInOrder() throws {
        let wire = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n".bytes
        var parser = RequestHeadParser(limits: HTTPLimits())
        var buffer = wire[...]
        var paths: [String] = []
        while !buffer.isEmpty {
            let r = try withBytes(Array(buffer)) { (p) throws(HTTPError) in try parser.feed(p) }
            buffer = buffer.dropFirst(r.consumed)
            let head = try #require(r.head)
            paths.append(head.path)
            // A finished parser consumes nothing until reset.
            let again = try withBytes(Array(buffer)) { (p) throws(HTTPError) in try parser.feed(p) }
            #expect(again.consumed == 0 && again.head == nil)
            parser.reset()
        }
        #expect(paths == ["/1", "/2"])
    }

    @Test func incompleteHeadReportsPartial() {
        #expect(agreed(requestOutcomes("GET / HTTP/1.1\r\nHost: a\r\n")) == .incomplete(partial: true))
        // Leading empty lines alone are not a request yet.
        #expect(agreed(requestOutcomes("\r\n")) == .incomplete(partial: false))
    }

    @Test func deadAfterThrowUntilReset() throws {
        var parser = RequestHeadParser(limits: HTTPLimits())
        let bad = "GET / HTTP/1.1\r\nBad Name: x\r\n".bytes
        #expect(throws: HTTPError.self) { try withBytes(bad) { (p) throws(HTTPError) in _ = try parser.feed(p) } }
        let good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n".bytes
        #expect(throws: HTTPError.self) { try withBytes(good) { (p) throws(HTTPError) in _ = try parser.feed(p) } }
        parser.reset()
        let r = try withBytes(good) { (p) throws(HTTPError) in try parser.feed(p) }
        #expect(r.head?.path == "/")
    }

    @Test func semanticErrorAlsoKillsTheParser() {
        var parser = RequestHeadParser(limits: HTTPLimits())
        let bad = "GET / HTTP/1.1\r\n\r\n".bytes  // no Host
        for _ in 0..<2 {
            #expect(throws: HTTPError(status: 400, reason: "missing Host")) {
                try withBytes(bad) { (p) throws(HTTPError) in _ = try parser.feed(p) }
            }
        }
    }

    // MARK: 9112 §2.2 line endings, bare CR, leading whitespace

    @Test func bareCRAnywhereIs400() {
        for text in [
            "GET / HTTP/1.1\rHost: a\r\n\r\n",
            "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n",
            "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
            "G\rET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            #expect(requestStatus(text) == 400, "\(text.debugDescription)")
        }
    }

    /// Bare LF is accepted as a whole line ending (documented in HeadParserCore).
    @Test func bareLFLineEndingsAccepted() throws {
        let h = try #require(parseRequest("GET /x HTTP/1.1\nHost: a\nX: 1\r\n\n"))
        #expect(h.path == "/x")
        #expect(h.headers["x"] == "1")
    }

    @Test func whitespaceBeforeFirstHeaderLineIs400() {
        #expect(requestStatus("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400)
        #expect(requestStatus("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n") == 400)
    }

    @Test func fewLeadingEmptyLinesIgnored() throws {
        let h = try #require(parseRequest("\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(h.method == "GET")
        #expect(requestStatus(String(repeating: "\r\n", count: 10) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    // MARK: 9112 §3 request line

    @Test func requestLineMustBeExact() {
        for text in [
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
            " GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /\r\nHost: a\r\n\r\n",
            "GET / http/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
            "GET / HTTP/11\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET\r\nHost: a\r\n\r\n",
            "/ HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            #expect(requestStatus(text) == 400, "\(text.debugDescription)")
        }
    }

    @Test func tlsHelloOnPlaintextPortRefusedAtFirstByte() throws {
        var parser = RequestHeadParser(limits: HTTPLimits())
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]
        #expect(throws: HTTPError(status: 400, reason: "invalid method")) {
            try withBytes(hello) { (p) throws(HTTPError) in _ = try parser.feed(p.slice(0, 1)) }
        }
    }

    @Test func versions() throws {
        #expect(parseRequest("GET / HTTP/1.0\r\n\r\n")?.version == .http1_0)
        #expect(requestStatus("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505)
        #expect(requestStatus("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505)
        // Higher 1.x minors are handled as 1.1 (RFC 9110 §2.5).
        #expect(parseRequest("GET / HTTP/1.2\r\nHost: a\r\n\r\n")?.version == .http1_1)
    }

    @Test func methodIsCaseSensitiveToken() throws {
        #expect(parseRequest("get / HTTP/1.1\r\nHost: a\r\n\r\n")?.method == "get")
        #expect(parseRequest("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n")?.method == "M-SEARCH")
    }

    /// The common methods come back as literals, any other token as sent; a near miss in
    /// case or length is not taken for a common one.
    @Test func everyMethodComesBackAsSent() throws {
        for method in ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS", "GEt", "POSTS", "PROPFIND", "TRACE", "X"] {
            #expect(parseRequest("\(method) /m HTTP/1.1\r\nHost: a\r\n\r\n")?.method == method)
        }
    }

    /// The path is the target's string when the target is all path, and its own otherwise.
    @Test func pathSharesTheTargetOnlyWhenTheyAreEqual() throws {
        let plain = try #require(parseRequest("GET /plain HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(plain.path == "/plain" && plain.target == "/plain" && plain.query == nil)
        let queried = try #require(parseRequest("GET /plain?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(queried.path == "/plain" && queried.target == "/plain?x=1")
        let canonical = try #require(parseRequest("GET /a/./b HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(canonical.path == "/a/b" && canonical.rawPath == "/a/./b" && canonical.target == "/a/./b")
    }

    @Test func methodTooLongIs501() {
        let limits = HTTPLimits(maxMethodBytes: 8)
        #expect(requestStatus("ABCDEFGH / HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == nil)
        #expect(requestStatus("ABCDEFGHI / HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == 501)
        // Known before the line ends.
        var parser = RequestHeadParser(limits: limits)
        let partial = "ABCDEFGHIJ".bytes
        #expect(throws: HTTPError(status: 501, reason: "method too long")) {
            try withBytes(partial) { (p) throws(HTTPError) in _ = try parser.feed(p) }
        }
    }

    @Test func targetTooLongIs414() {
        let limits = HTTPLimits(maxRequestLineBytes: 64)
        let ok = "GET /" + String(repeating: "a", count: 64 - 14) + " HTTP/1.1"
        #expect(ok.utf8.count == 64)
        #expect(parseRequest(ok + "\r\nHost: a\r\n\r\n", limits: limits)?.method == "GET")
        #expect(requestStatus("GET /" + String(repeating: "a", count: 51) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == 414)
        #expect(requestStatus("GET /" + String(repeating: "a", count: 51) + " HTTP/1.1\nHost: a\n\n", limits: limits) == 414)
        // Refused while still arriving, before the whole line was buffered.
        #expect(requestStatus("GET /" + String(repeating: "a", count: 5000), limits: limits) == 414)
        // Default limit 8192.
        #expect(requestStatus("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", exhaustive: false) == 414)
    }

    @Test func targetCharacters() {
        for target in ["/a\u{1}b", "/a\u{7f}", "/é", "/a#frag", "/a\"b\u{0}"] {
            #expect(requestStatus("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == 400, "\(target.debugDescription)")
        }
        #expect(parseRequest("GET /a%2Fb/{x}|~!$&'()*+,;=:@?q=[1] HTTP/1.1\r\nHost: a\r\n\r\n")?.path == "/a%2Fb/{x}|~!$&'()*+,;=:@")
    }

    @Test func queryEdgeCases() throws {
        let h = try #require(parseRequest("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(h.path == "/p" && h.query == "")
        let h2 = try #require(parseRequest("GET /p?a?b HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(h2.path == "/p" && h2.query == "a?b")
    }

    // MARK: 9112 §3.2 target forms and Host

    @Test func absoluteFormAuthorityOverridesHost() throws {
        let h = try #require(parseRequest("GET HTTP://API.Example.com:8443/v1/s?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(h.authority == "api.example.com:8443")
        #expect(h.path == "/v1/s")
        #expect(h.query == "x=1")
        #expect(h.target == "HTTP://API.Example.com:8443/v1/s?x=1")
        let h2 = try #require(parseRequest("GET https://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n"))
        #expect(h2.authority == "b.example" && h2.path == "/" && h2.query == nil)
        let h3 = try #require(parseRequest("GET http://c?q HTTP/1.1\r\nHost:\r\n\r\n"))
        #expect(h3.authority == "c" && h3.path == "/" && h3.query == "q")
    }

    @Test func absoluteFormRejections() {
        for target in ["ftp://a/", "http://", "http:///x", "http://user@a/", "http://a:99999/", "http:/a"] {
            #expect(requestStatus("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == 400, "\(target)")
        }
        // Host must still be valid even when the absolute-form authority wins.
        #expect(requestStatus("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n") == 400)
    }

    @Test func asteriskOnlyWithOptions() throws {
        let h = try #require(parseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(h.path == "*" && h.target == "*" && h.authority == "a")
        #expect(requestStatus("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(requestStatus("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }

    @Test func authorityFormOnlyWithConnectAndConnectIs501() {
        #expect(requestStatus("GET example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n") == 400)
        #expect(requestStatus("POST a HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(requestStatus("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") == 501)
    }

    @Test func hostRules() throws {
        #expect(requestStatus("GET / HTTP/1.1\r\nAccept: x\r\n\r\n") == 400)
        #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == 400)
        #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n") == 400)
        for bad in ["", "a b", "a@b", "a:b", "a:99999", "a:123456", "[::1", "[]", "[zz::1]", "[::1]x", "a..b", "ex%41mple", "a/b", "a,b", ":80", "é.com"] {
            #expect(requestStatus("GET / HTTP/1.1\r\nHost: \(bad)\r\n\r\n") == 400, "\(bad.debugDescription)")
        }
        for (good, authority) in [
            ("Example.COM", "example.com"), ("a:8080", "a:8080"), ("a:", "a"), ("[::1]:80", "[::1]:80"),
            ("[2001:DB8::1]", "[2001:db8::1]"), ("10.0.0.1:0", "10.0.0.1:0"), ("my_host-1.local", "my_host-1.local"),
            ("  padded  ", "padded"),
        ] {
            #expect(parseRequest("GET / HTTP/1.1\r\nHost: \(good)\r\n\r\n")?.authority == authority, "\(good)")
        }
        // HTTP/1.0 may omit Host.
        #expect(parseRequest("GET / HTTP/1.0\r\n\r\n")?.authority == "")
        #expect(requestStatus("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
    }

    // MARK: 9112 §5 field lines

    @Test func fieldNameRules() {
        for line in ["Host : a", "Host\t: a", "Ho st: a", "Ho(st): a", ": a", "NoColon", "X-\u{e9}: a", "[x]: y"] {
            #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\n\(line)\r\n\r\n") == 400, "\(line.debugDescription)")
        }
    }

    @Test func obsFoldIs400() {
        #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n") == 400)
        #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n") == 400)
    }

    @Test func controlBytesInValues() {
        for value in ["a\u{0}b", "a\u{1}b", "a\u{7f}", "\u{1b}[31m", "a\u{b}"] {
            #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nX: \(value)\r\n\r\n") == 400, "\(value.debugDescription)")
        }
        // Invalid UTF-8 obs-text cannot be kept in a String: refused in requests.
        var wire = "GET / HTTP/1.1\r\nHost: a\r\nX: ".bytes
        wire += [0xE9, 0x41]
        wire += "\r\n\r\n".bytes
        var parser = RequestHeadParser(limits: HTTPLimits())
        #expect(throws: HTTPError.self) { try withBytes(wire) { (p) throws(HTTPError) in _ = try parser.feed(p) } }
    }

    @Test func valuesTrimmedTabsAndUTF8Kept() throws {
        let h = try #require(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nX: \t a\tb  c \t\r\nEmpty:\r\nY: caf\u{e9}\r\n\r\n"))
        #expect(h.headers["x"] == "a\tb  c")
        #expect(h.headers["empty"] == "")
        #expect(h.headers["y"] == "caf\u{e9}")
    }

    // MARK: limits (9110 §5.4, RFC 6585)

    @Test func headTooLargeIs431() {
        let limits = HTTPLimits(maxHeaderBytes: 100)
        let base = "GET / HTTP/1.1\r\nHost: a\r\n"  // 25 bytes
        let fits = base + "X: " + String(repeating: "v", count: 100 - 25 - 2 - 5) + "\r\n\r\n"
        #expect(fits.utf8.count == 100)
        #expect(parseRequest(fits, limits: limits) != nil)
        let over = base + "X: " + String(repeating: "v", count: 100 - 25 - 2 - 4) + "\r\n\r\n"
        #expect(requestStatus(over, limits: limits) == 431)
        // A head that never ends is refused once it passes the limit, not buffered forever.
        #expect(requestStatus(base + "X: " + String(repeating: "v", count: 500), limits: limits) == 431)
        #expect(requestStatus(base + String(repeating: "X: y\r\n", count: 30), limits: limits) == 431)
    }

    @Test func tooManyFieldsIs431() {
        let limits = HTTPLimits(maxHeaderCount: 3)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\n\r\n", limits: limits) != nil)
        #expect(requestStatus("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n", limits: limits) == 431)
    }

    // MARK: 9112 §6 framing

    @Test func contentLength() throws {
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n")?.framing == .contentLength(42))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")?.framing == .contentLength(0))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 007\r\n\r\n")?.framing == .contentLength(7))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n")?.framing
            == .contentLength(9_223_372_036_854_775_807))
        for bad in ["", "abc", "-1", "+1", "1 2", "0x10", "1.0", "9223372036854775808", "99999999999999999999999", "1,", ",1", "1,,1", "\u{b}1"] {
            #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(bad)\r\n\r\n") == 400, "\(bad.debugDescription)")
        }
    }

    /// Identical repeats are collapsed into one field (RFC 9112 §6.3 rule 5); differing: 400.
    @Test func repeatedContentLength() throws {
        let h = try #require(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nX: y\r\ncontent-length: 5\r\n\r\n"))
        #expect(h.framing == .contentLength(5))
        #expect(h.headers.values(name: "content-length") == ["5"])
        #expect(h.headers["x"] == "y")
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n") == 400)
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400)
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05x\r\n\r\n") == 400)
    }

    @Test func contentLengthAndTransferEncodingIs400() {
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 400)
    }

    @Test func transferEncodingRules() {
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing == .chunked)
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n")?.framing == .chunked)
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n")?.framing == .chunked)
        // chunked not final, or twice: 400.
        for te in ["chunked, gzip", "chunked, chunked", "gzip", "chunked;x=1, chunked", "", ",", "chunked x", "\"chunked\""] {
            #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(te)\r\n\r\n") == 400, "\(te)")
        }
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        // Codings the gateway does not implement: 501.
        for te in ["gzip, chunked", "foo, chunked", "x-custom;q=1, chunked"] {
            #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(te)\r\n\r\n") == 501, "\(te)")
        }
        // chunked takes no parameters.
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;ext=1\r\n\r\n") == 400)
        #expect(requestStatus("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
    }

    @Test func transferEncodingInHTTP10Is400() {
        #expect(requestStatus("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
    }

    // MARK: connection reuse

    @Test func keepAlive() {
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n")?.keepAlive == true)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n")?.keepAlive == false)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n")?.keepAlive == false)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n")?.keepAlive == true)
        #expect(parseRequest("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(parseRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepAlive == true)
        #expect(parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")?.keepAlive == false)
    }

    @Test func tokenHelpers() {
        let tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for b in UInt8(0)...UInt8(255) {
            #expect(HTTPByte.isToken(b) == tchars.utf8.contains(b), "byte \(b)")
        }
        #expect(isValidHTTPToken("X-Auth_User"))
        #expect(!isValidHTTPToken(""))
        #expect(!isValidHTTPToken("a b"))
        #expect(isValidHTTPFieldValue("a\tb é"))
        #expect(!isValidHTTPFieldValue("a\r\nb"))
    }
}
