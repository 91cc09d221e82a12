import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A differential corpus: hostile requests sent through a real in-process gateway to a
/// `ScriptedUpstream`, and the exact bytes the upstream may receive for each.
///
/// Every entry is one raw request on a fresh client connection to a fresh gateway (config
/// `simpleConfig`: one route `/` without auth, listener trusting nobody, client 127.0.0.1), and
/// one expected outcome:
/// - `.forwarded(exactHead:body:)`: the upstream receives exactly this head (request line,
///   every field in order, the final CRLF CRLF) and then exactly `body`, and nothing more
///   within a short quiet window (no smuggled tail). The upstream then answers 200 and the
///   client must get it.
/// - `.refused(status:)`: the client gets a response with that status before the gateway
///   closes, and the upstream never sees a connection, let alone a byte.
///
/// Output is deterministic because every request carries `Host: gw.test` and a valid
/// `X-Request-Id: corpus-N` (N = the entry's 1-based position), which the gateway keeps.
///
/// ## Adding an entry
/// Append to `table`. Write the request with `req(requestLine, fields, body:)` (it adds
/// `Host: gw.test` and `X-Request-Id: {rid}` as the first fields), or as raw text containing
/// `{rid}` where the id goes. Write a forwarded head with `head(requestLine, kept, framing:,
/// host:)`: `kept` are the client fields that survive, in the client's order; the gateway then
/// appends X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded, X-Request-Id, the
/// framing field it re-derived (`Content-Length: n` or `Transfer-Encoding: chunked`), and Host
/// last. `{rid}` is replaced by `corpus-N` in both the request and the expected head. If the
/// gateway's current behaviour is wrong in a way that matters (smuggling, spoofing), keep the
/// correct expectation and set `knownIssue:` to a precise explanation: that entry alone runs
/// inside `withKnownIssue`.
@Suite struct DifferentialCorpusTests {
    enum Outcome: Sendable {
        case forwarded(exactHead: String, body: [UInt8])
        case refused(status: Int)
    }

    struct Entry: Sendable, CustomTestStringConvertible {
        let name: String
        let request: [UInt8]
        let outcome: Outcome
        let knownIssue: String?
        var testDescription: String { name }
    }

    /// An entry before numbering: `{rid}` still in the texts.
    struct Template {
        let name: String
        let request: String
        let outcome: Outcome
        let knownIssue: String?

        func numbered(_ n: Int) -> Entry {
            let rid = "corpus-\(n)"
            let outcome: Outcome
            switch self.outcome {
            case .forwarded(let h, let b): outcome = .forwarded(exactHead: h.replacingOccurrences(of: "{rid}", with: rid), body: b)
            case .refused: outcome = self.outcome
            }
            return Entry(name: "\(n): \(name)", request: Array(request.replacingOccurrences(of: "{rid}", with: rid).utf8),
                         outcome: outcome, knownIssue: knownIssue)
        }
    }

    // MARK: - Builders

    /// `line`, then `Host: gw.test`, `X-Request-Id: {rid}`, `fields`, the blank line and `body`.
    static func req(_ line: String, _ fields: [String] = [], body: String = "") -> String {
        line + "\r\nHost: gw.test\r\nX-Request-Id: {rid}\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n" + body
    }

    /// The head the upstream receives: `line`, the surviving client fields, the gateway's own.
    static func head(_ line: String, _ kept: [String] = [], framing: String? = nil, host: String = "gw.test") -> String {
        line + "\r\n" + kept.map { $0 + "\r\n" }.joined()
            + "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: \(host)\r\n"
            + "Forwarded: for=127.0.0.1;host=\(host);proto=http\r\nX-Request-Id: {rid}\r\n"
            + (framing.map { $0 + "\r\n" } ?? "") + "Host: \(host)\r\n\r\n"
    }

    static func fwd(_ name: String, _ request: String, _ head: String, body: String = "", knownIssue: String? = nil) -> Template {
        Template(name: name, request: request, outcome: .forwarded(exactHead: head, body: Array(body.utf8)), knownIssue: knownIssue)
    }

    static func refused(_ name: String, _ request: String, _ status: Int = 400, knownIssue: String? = nil) -> Template {
        Template(name: name, request: request, outcome: .refused(status: status), knownIssue: knownIssue)
    }

    static let chunkedHello = "5\r\nhello\r\n0\r\n\r\n"
    static let smuggledGet = "GET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n"

    // MARK: - The corpus

    static let table: [Template] = [
        // Framing / smuggling shapes (RFC 9112 §6, §11.2).
        refused("CL then TE", req("POST /p HTTP/1.1", ["Content-Length: 5", "Transfer-Encoding: chunked"], body: chunkedHello)),
        refused("TE then CL", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked", "Content-Length: 5"], body: chunkedHello)),
        refused("CL + TE hiding a pipelined request",
                req("POST /p HTTP/1.1", ["Content-Length: \(("0\r\n\r\n" + smuggledGet).utf8.count)", "Transfer-Encoding: chunked"],
                    body: "0\r\n\r\n" + smuggledGet)),
        fwd("TE 'chunked ' with trailing SP", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked "], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        fwd("TE HTAB before and after chunked", req("POST /p HTTP/1.1", ["Transfer-Encoding:\tchunked\t"], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        fwd("TE 'Chunked' mixed case", req("POST /p HTTP/1.1", ["Transfer-Encoding: ChUnKeD"], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        fwd("TE with an empty list member", req("POST /p HTTP/1.1", ["Transfer-Encoding: , chunked"], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        refused("TE xchunked", req("POST /p HTTP/1.1", ["Transfer-Encoding: xchunked"], body: chunkedHello)),
        refused("TE chunkedx", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunkedx"], body: chunkedHello)),
        refused("TE chunked, identity", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked, identity"], body: chunkedHello)),
        refused("TE identity, chunked", req("POST /p HTTP/1.1", ["Transfer-Encoding: identity, chunked"], body: chunkedHello), 501),
        refused("TE chunked in two fields", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], body: chunkedHello)),
        refused("TE with SP before colon", req("POST /p HTTP/1.1", ["Transfer-Encoding : chunked"], body: chunkedHello)),
        refused("TE with a quoted-string coding", req("POST /p HTTP/1.1", ["Transfer-Encoding: \"chunked\""], body: chunkedHello)),
        fwd("TE chunked plus an empty TE field", req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked", "Transfer-Encoding:"], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        refused("TE in HTTP/1.0", req("POST /p HTTP/1.0", ["Transfer-Encoding: chunked"], body: chunkedHello)),
        fwd("duplicate identical CL fields collapse to one", req("POST /p HTTP/1.1", ["Content-Length: 5", "Content-Length: 5"], body: "hello"),
            head("POST /p HTTP/1.1", framing: "Content-Length: 5"), body: "hello"),
        fwd("identical CL list collapses", req("POST /p HTTP/1.1", ["Content-Length: 5, 5"], body: "hello"),
            head("POST /p HTTP/1.1", framing: "Content-Length: 5"), body: "hello"),
        refused("differing CL fields", req("POST /p HTTP/1.1", ["Content-Length: 5", "Content-Length: 6"], body: "hello!")),
        refused("CL with a plus sign", req("POST /p HTTP/1.1", ["Content-Length: +5"], body: "hello")),
        refused("CL negative", req("POST /p HTTP/1.1", ["Content-Length: -5"], body: "hello")),
        refused("CL in hex", req("POST /p HTTP/1.1", ["Content-Length: 0x5"], body: "hello")),
        refused("CL with inner SP", req("POST /p HTTP/1.1", ["Content-Length: 1 0"], body: "helloworld")),
        fwd("CL with leading zeros is re-serialised", req("POST /p HTTP/1.1", ["Content-Length: 0005"], body: "hello"),
            head("POST /p HTTP/1.1", framing: "Content-Length: 5"), body: "hello"),
        fwd("GET with a CL body that looks like a request stays a body",
            req("GET /p HTTP/1.1", ["Content-Length: \(smuggledGet.utf8.count)"], body: smuggledGet),
            head("GET /p HTTP/1.1", framing: "Content-Length: \(smuggledGet.utf8.count)"), body: smuggledGet),
        fwd("bytes after a CL body with Connection: close are never forwarded",
            req("POST /p HTTP/1.1", ["Connection: close", "Content-Length: 5"], body: "hello" + smuggledGet),
            head("POST /p HTTP/1.1", framing: "Content-Length: 5"), body: "hello"),
        fwd("bytes after an HTTP/1.0 request are never forwarded",
            req("GET /p HTTP/1.0", body: smuggledGet), head("GET /p HTTP/1.1")),
        fwd("bytes after a chunked body with Connection: close are never forwarded",
            req("POST /p HTTP/1.1", ["Connection: close", "Transfer-Encoding: chunked"], body: chunkedHello + smuggledGet),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        refused("obs-fold", req("GET /p HTTP/1.1", ["X-A: 1", " folded"])),
        refused("obs-fold continuing Transfer-Encoding", req("POST /p HTTP/1.1", ["X-A: 1", "\tTransfer-Encoding: chunked"], body: chunkedHello)),
        fwd("bare LF line endings are re-serialised with CRLF",
            "GET /p HTTP/1.1\nHost: gw.test\nX-Request-Id: {rid}\nX-A: 1\n\n",
            head("GET /p HTTP/1.1", ["X-A: 1"])),
        refused("bare CR splitting a field", req("GET /p HTTP/1.1", ["X-A: 1\rTransfer-Encoding: chunked"])),
        refused("NUL in a value", req("GET /p HTTP/1.1", ["X-A: a\u{0}b"])),
        refused("SP before colon", req("GET /p HTTP/1.1", ["X-Forwarded-For : 6.6.6.6"])),
        refused("field name with slash", req("GET /p HTTP/1.1", ["X/A: 1"])),
        refused("field name with non-ASCII", req("GET /p HTTP/1.1", ["X-\u{E9}: 1"])),
        refused("empty field name", req("GET /p HTTP/1.1", [": 1"])),

        // Chunked bodies: always re-framed, extensions and trailers dropped.
        fwd("chunk extensions and trailers are dropped",
            req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked"], body: "5;ext=1;q=\"a b\"\r\nhello\r\n6\r\n world\r\n0;last\r\nX-Trailer: t\r\nContent-Length: 99\r\n\r\n"),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        fwd("chunk size with leading zeros and uppercase hex",
            req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked"], body: "000A\r\n0123456789\r\n0\r\n\r\n"),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: "a\r\n0123456789\r\n0\r\n\r\n"),
        fwd("chunked body whose data looks like a request",
            req("POST /p HTTP/1.1", ["Transfer-Encoding: chunked"], body: String(smuggledGet.utf8.count, radix: 16) + "\r\n" + smuggledGet + "\r\n0\r\n\r\n"),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"),
            body: String(smuggledGet.utf8.count, radix: 16) + "\r\n" + smuggledGet + "\r\n0\r\n\r\n"),
        fwd("Expect: 100-continue travels with its body",
            req("POST /p HTTP/1.1", ["Expect: 100-continue", "Content-Length: 5"], body: "hello"),
            head("POST /p HTTP/1.1", ["Expect: 100-continue"], framing: "Content-Length: 5"), body: "hello"),

        // Request line.
        fwd("absolute-form authority overrides a different Host",
            "GET http://other.test/x?q=1 HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: {rid}\r\n\r\n",
            head("GET /x?q=1 HTTP/1.1", host: "other.test")),
        fwd("absolute-form without a path", "GET http://other.test HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: {rid}\r\n\r\n",
            head("GET / HTTP/1.1", host: "other.test")),
        fwd("absolute-form with uppercase scheme and host", "GET HTTP://Other.TEST/x HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: {rid}\r\n\r\n",
            head("GET /x HTTP/1.1", host: "other.test")),
        fwd("absolute-form https does not change X-Forwarded-Proto", "GET https://other.test/x HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: {rid}\r\n\r\n",
            head("GET /x HTTP/1.1", host: "other.test")),
        fwd("Host with a port is quoted in Forwarded", "GET /p HTTP/1.1\r\nHost: gw.test:8080\r\nX-Request-Id: {rid}\r\n\r\n",
            "GET /p HTTP/1.1\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: gw.test:8080\r\n"
            + "Forwarded: for=127.0.0.1;host=\"gw.test:8080\";proto=http\r\nX-Request-Id: {rid}\r\nHost: gw.test:8080\r\n\r\n"),
        fwd("leading empty line before the request line", "\r\n" + req("GET /p HTTP/1.1"), head("GET /p HTTP/1.1")),
        fwd("POST without framing forwards no body", req("POST /p HTTP/1.1"), head("POST /p HTTP/1.1")),
        fwd("Content-Length: 0 is kept", req("POST /p HTTP/1.1", ["Content-Length: 0"]), head("POST /p HTTP/1.1", framing: "Content-Length: 0")),
        refused("asterisk-form with GET", req("GET * HTTP/1.1")),
        refused("CONNECT", "CONNECT gw.test:443 HTTP/1.1\r\nHost: gw.test:443\r\nX-Request-Id: {rid}\r\n\r\n", 501),
        fwd("lowercase method is a different method, kept as sent", req("get /p HTTP/1.1"), head("get /p HTTP/1.1")),
        fwd("HTTP/1.0 keep-alive goes upstream as HTTP/1.1 without Connection",
            req("GET /p HTTP/1.0", ["Connection: keep-alive", "Keep-Alive: timeout=5"]), head("GET /p HTTP/1.1")),
        refused("HTTP/2.0 version", req("GET /p HTTP/2.0"), 505),
        refused("overlong target", req("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1"), 414),
        refused("overlong field", req("GET /p HTTP/1.1", ["X-Big: " + String(repeating: "v", count: 33 * 1024)]), 431),
        fwd("Host is normalised to lowercase", "GET /p HTTP/1.1\r\nHost: GW.Test\r\nX-Request-Id: {rid}\r\n\r\n", head("GET /p HTTP/1.1")),

        // Path spellings: the canonical path is what the upstream gets.
        fwd("dot segments", req("GET /a/./b/../c HTTP/1.1"), head("GET /a/c HTTP/1.1")),
        fwd("%2e%2e is a dot segment", req("GET /a/%2e%2e/b HTTP/1.1"), head("GET /b HTTP/1.1")),
        fwd("mixed .%2E is a dot segment", req("GET /a/x/.%2E/b HTTP/1.1"), head("GET /a/b HTTP/1.1")),
        fwd("repeated slashes merge", req("GET //a///b HTTP/1.1"), head("GET /a/b HTTP/1.1")),
        fwd("unreserved escapes decoded, others uppercased", req("GET /%61%7e/%c3%a9 HTTP/1.1"), head("GET /a~/%C3%A9 HTTP/1.1")),
        fwd("query forwarded as sent", req("GET /p?a=%2F..&b=/../x HTTP/1.1"), head("GET /p?a=%2F..&b=/../x HTTP/1.1")),
        refused("%2F in the path", req("GET /a%2Fb HTTP/1.1")),
        refused("%2f lowercase in the path", req("GET /a/..%2fadmin HTTP/1.1")),
        refused("%5C in the path", req("GET /a%5Cb HTTP/1.1")),
        refused("raw backslash in the path", req("GET /a\\..\\b HTTP/1.1")),
        refused("dot segments climbing above the root", req("GET /a/../../x HTTP/1.1")),
        refused("dot segment with parameters", req("GET /a/..;x/b HTTP/1.1")),
        refused("encoded NUL in the path", req("GET /a%00b HTTP/1.1")),

        // Header spoofing.
        fwd("X_Forwarded_For and duplicate x-forwarded-for are replaced",
            req("GET /p HTTP/1.1", ["X_Forwarded_For: 6.6.6.1", "x-forwarded-for: 6.6.6.2", "X-Forwarded-For: 6.6.6.3", "X-Other: 1"]),
            head("GET /p HTTP/1.1", ["X-Other: 1"])),
        fwd("Forwarded and X-Forwarded-Host/-Proto spellings are replaced",
            req("GET /p HTTP/1.1", ["Forwarded: for=6.6.6.6;host=evil.test;proto=https", "FORWARDED: for=1.1.1.1",
                                    "X-Forwarded-Host: evil.test", "x_forwarded_proto: https"]),
            head("GET /p HTTP/1.1")),
        fwd("X-Auth-* identity headers in every spelling are stripped",
            req("GET /p HTTP/1.1", ["X-Auth-User-Id: evil", "X_Auth_User_Id: evil", "x-auth-user_id: evil", "X-AUTH-TENANT-ID: t",
                                    "X_Auth_Scopes: admin", "X-Auth-Expires-At: 9999999999", "x_auth_signature: v1=00", "X-Auth-Other: kept"]),
            head("GET /p HTTP/1.1", ["X-Auth-Other: kept"])),
        fwd("Connection: X-Forwarded-For cannot remove the gateway's own",
            req("GET /p HTTP/1.1", ["Connection: X-Forwarded-For, X-Request-Id, Forwarded", "X-Forwarded-For: 6.6.6.6"]),
            head("GET /p HTTP/1.1")),
        fwd("Connection-listed names are removed, Content-Length framing survives",
            req("POST /p HTTP/1.1", ["Connection: keep-alive, X-Secret, Content-Length, Host", "X-Secret: s", "X-Kept: k", "Content-Length: 5"], body: "hello"),
            head("POST /p HTTP/1.1", ["X-Kept: k"], framing: "Content-Length: 5"), body: "hello"),
        fwd("Connection: Transfer-Encoding cannot unframe a chunked body",
            req("POST /p HTTP/1.1", ["Connection: Transfer-Encoding", "Transfer-Encoding: chunked"], body: chunkedHello),
            head("POST /p HTTP/1.1", framing: "Transfer-Encoding: chunked"), body: chunkedHello),
        fwd("Proxy-Connection, Keep-Alive, TE, Trailer, Proxy-Authorization are hop-by-hop",
            req("GET /p HTTP/1.1", ["Proxy-Connection: keep-alive", "Keep-Alive: timeout=5", "TE: trailers", "Trailer: X-T",
                                    "Proxy-Authorization: Basic Zm9vOmJhcg==", "Authorization: Bearer kept"]),
            head("GET /p HTTP/1.1", ["Authorization: Bearer kept"])),
        fwd("Upgrade: websocket is not passed on",
            req("GET /p HTTP/1.1", ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"]),
            head("GET /p HTTP/1.1", ["Sec-WebSocket-Version: 13"])),
        fwd("Connection: close is hop-by-hop",
            req("GET /p HTTP/1.1", ["Connection: close"]), head("GET /p HTTP/1.1")),
        fwd("several Connection fields with odd spacing all count",
            req("GET /p HTTP/1.1", ["Connection: keep-alive", "Connection: ,X-B ,\tX-C", "X-B: 1", "X-C: 2", "x-custom: kept"]),
            head("GET /p HTTP/1.1", ["x-custom: kept"])),
        fwd("value OWS trimmed, empty value kept, name case kept",
            req("GET /p HTTP/1.1", ["X-A: \t v w \t", "X-Empty:", "x-lower: 1"]),
            head("GET /p HTTP/1.1", ["X-A: v w", "X-Empty: ", "x-lower: 1"])),
        fwd("underscore spellings of framing names are dropped (a CGI-style upstream would read them as framing)",
            req("GET /p HTTP/1.1", ["Transfer_Encoding: chunked", "Content_Length: 5", "HOST_: x", "host_name: kept"]),
            head("GET /p HTTP/1.1", ["HOST_: x", "host_name: kept"])),
    ]

    static let corpus: [Entry] = table.enumerated().map { $1.numbered($0 + 1) }

    @Test(arguments: corpus)
    func upstreamReceivesExactly(_ entry: Entry) throws {
        if let issue = entry.knownIssue {
            withKnownIssue(Comment(rawValue: issue)) { try Self.run(entry) }
        } else {
            try Self.run(entry)
        }
    }

    /// Keep-alive ordering: three pipelined requests (no body, Content-Length body, chunked
    /// body with an extension and a trailer) on one client connection reach the upstream on one
    /// pooled connection, each exactly, each only after the previous response.
    @Test func pipelinedRequestsReachTheUpstreamInOrderAndExactly() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        defer { gw.stop() }
        let c = try gw.client(timeout: 3)
        c.send("GET /1 HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: corpus-p1\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: corpus-p2\r\nContent-Length: 5\r\n\r\nhello"
            + "POST /3 HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: corpus-p3\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
        let u = try up.accept(timeout: 3)
        u.setTimeout(3)
        let expected: [(String, String)] = [
            (Self.head("GET /1 HTTP/1.1").replacingOccurrences(of: "{rid}", with: "corpus-p1"), ""),
            (Self.head("POST /2 HTTP/1.1", framing: "Content-Length: 5").replacingOccurrences(of: "{rid}", with: "corpus-p2"), "hello"),
            (Self.head("POST /3 HTTP/1.1", framing: "Transfer-Encoding: chunked").replacingOccurrences(of: "{rid}", with: "corpus-p3"),
             "3\r\nabc\r\n0\r\n\r\n"),
        ]
        for (i, (head, body)) in expected.enumerated() {
            #expect(try u.readHead() == head, "request \(i + 1)")
            #expect(String(decoding: try u.readExactly(body.utf8.count), as: UTF8.self) == body, "request \(i + 1)")
            let extra = u.buffer + u.bytesArriving(within: 0.05, restoreTimeout: 3)
            #expect(extra.isEmpty, "request \(i + 1): the next request must wait for this response")
            u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\(i + 1)")
            #expect(try c.readResponse().bodyText == "\(i + 1)")
        }
        #expect(!up.hasPendingConnection(timeout: 0), "one pooled upstream connection carried all three")
    }

    static func run(_ entry: Entry) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        defer { gw.stop() }
        let c = try gw.client(timeout: 3)
        c.send(entry.request)
        switch entry.outcome {
        case .forwarded(let exactHead, let body):
            let u = try up.accept(timeout: 3)
            u.setTimeout(3)
            let head = try u.readHead()
            #expect(head == exactHead, "\(entry.name): upstream head differs")
            let got = try u.readExactly(body.count)
            #expect(got == body, "\(entry.name): body \(String(decoding: got, as: UTF8.self).debugDescription)")
            // Bytes already buffered past the body count too: `bytesArriving` only reports new ones.
            let extra = u.buffer + u.bytesArriving(within: 0.03, restoreTimeout: 3)
            #expect(extra.isEmpty, "\(entry.name): bytes after the request: \(String(decoding: extra, as: UTF8.self).debugDescription)")
            u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            #expect(try c.readResponse().status == 200, "\(entry.name)")
            let late = u.bytesArriving(within: 0.02, restoreTimeout: 3)
            #expect(late.isEmpty, "\(entry.name): a second request reached the upstream: \(String(decoding: late, as: UTF8.self).debugDescription)")
            #expect(!up.hasPendingConnection(timeout: 0), "\(entry.name): one upstream connection only")
        case .refused(let status):
            let t = c.readUntilClosed()
            #expect(t.response?.status == status, "\(entry.name): got \(t.text.prefix(200).debugDescription)")
            #expect(t.trailingBytes == 0, "\(entry.name): one response only: \(t.text.debugDescription)")
            // The client has read the refusal and the close: a connect, had there been one, came first.
            #expect(!up.hasPendingConnection(timeout: 0.02), "\(entry.name): a refused request never reaches the upstream")
        }
    }
}
