import Testing
@testable import StreamgateCore

/// What the gateway makes of an upstream's final response head, rule by rule.
@Suite struct ResponsePlanTests {
    func response(_ fields: [(String, String)], status: Int = 200, framing: BodyFraming = .contentLength(5),
                  codings: [String] = []) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, reason: "OK", headers: HTTPHeaders(fields.map { (name: $0.0, value: $0.1) }),
                         framing: framing, keepAlive: true, transferCodings: codings)
    }

    func request(_ method: String = "GET", _ version: HTTPVersion = .http1_1, keepAlive: Bool = true) -> ResponsePlan.Request {
        ResponsePlan.Request(method: method, version: version, keepAlive: keepAlive, requestID: "rid-1")
    }

    func plan(_ head: HTTPResponseHead, _ request: ResponsePlan.Request) -> ResponsePlan? {
        try? ResponsePlan.make(for: head, request: request).get()
    }

    /// The planned head's field lines.
    func fields(_ plan: ResponsePlan?) -> [String] {
        guard let plan else { return ["<refused>"] }
        let lines = String(decoding: plan.head, as: UTF8.self).split(separator: "\r\n" as Character, omittingEmptySubsequences: false).map(String.init)
        return Array(lines.dropFirst().dropLast(2))
    }

    /// Written in lent memory first (the loop's head scratch), the plan is the same, whether the
    /// head fits the scratch or spills out of a small one.
    @Test func aPlanWrittenInScratchIsTheSamePlan() throws {
        let head = response([("Content-Type", "text/event-stream"), ("X-Long", String(repeating: "v", count: 300))], framing: .chunked)
        let expected = try #require(plan(head, request()))
        for size in [8192, 128, 0] {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { scratch.deallocate() }
            #expect(try ResponsePlan.make(for: head, request: request(), scratch: scratch).get() == expected, "scratch of \(size) bytes")
        }
    }

    @Test func lengthDelimitedBodyKeepsItsLength() {
        let p = plan(response([("Content-Type", "text/plain"), ("Content-Length", "5")]), request())
        #expect(p?.clientFraming == .contentLength)
        #expect(p?.keepAlive == true)
        #expect(p?.isStream == false)
        #expect(p?.bodyFraming == .contentLength(5))
        #expect(p.map { String(decoding: $0.head, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n") } == true)
        #expect(fields(p) == ["Content-Type: text/plain", "Content-Length: 5", "X-Request-Id: rid-1"])
    }

    @Test func headResponseHasNoBodyWhateverItDeclares() {
        let p = plan(response([("Content-Length", "5")], framing: .contentLength(5)), request("HEAD"))
        #expect(p?.bodyFraming == BodyFraming.none)
        #expect(p?.clientFraming == ResponsePlan.ClientFraming.none)
        #expect(fields(p) == ["Content-Length: 5", "X-Request-Id: rid-1"])
    }

    @Test func http10ClientGetsCloseDelimitedUnlessLengthKnown() {
        let chunked = plan(response([("Transfer-Encoding", "chunked")], framing: .chunked), request("GET", .http1_0))
        #expect(chunked?.clientFraming == .closeDelimited)
        #expect(chunked?.keepAlive == false)
        #expect(fields(chunked) == ["Connection: close", "X-Request-Id: rid-1"])
        let sized = plan(response([("Content-Length", "5")]), request("GET", .http1_0))
        #expect(sized?.clientFraming == .contentLength)
        #expect(sized?.keepAlive == true)
        #expect(fields(sized) == ["Content-Length: 5", "Connection: keep-alive", "X-Request-Id: rid-1"])
        let closing = plan(response([("Content-Length", "5")]), request("GET", .http1_0, keepAlive: false))
        #expect(fields(closing) == ["Content-Length: 5", "Connection: close", "X-Request-Id: rid-1"])
    }

    @Test func untilCloseBodyIsChunkedForHTTP11() {
        let p = plan(response([("Connection", "close, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5")], framing: .untilClose), request())
        #expect(p?.clientFraming == .chunked)
        #expect(p?.keepAlive == true)
        #expect(fields(p) == ["Transfer-Encoding: chunked", "X-Request-Id: rid-1"])
    }

    @Test func transferCodingsTravelOnAndAreRefusedForHTTP10() {
        let head = response([("Transfer-Encoding", "gzip, chunked"), ("Content-Type", "text/event-stream")], framing: .chunked, codings: ["gzip"])
        let p = plan(head, request())
        #expect(p?.isStream == false)
        #expect(fields(p) == ["Content-Type: text/event-stream", "Transfer-Encoding: gzip, chunked", "X-Request-Id: rid-1"])
        #expect(ResponsePlan.make(for: head, request: request("GET", .http1_0)) == .failure(.transferCodingForHTTP10(["gzip"])))
    }

    @Test func eventStreamsAreDetectedAndNeverCoded() {
        let sse = plan(response([("Content-Type", "text/event-stream; charset=utf-8"), ("Content-Length", "100")],
                                framing: .contentLength(100)), request())
        #expect(sse?.isStream == true)
        // A stream's length is dropped: the gateway adds keepalives and may end it early.
        #expect(sse?.clientFraming == .chunked)
        #expect(fields(sse) == ["Content-Type: text/event-stream; charset=utf-8", "Transfer-Encoding: chunked", "X-Request-Id: rid-1"])
        // Media types ignore case (RFC 9110 §8.3.1); a longer subtype is another type.
        #expect(plan(response([("Content-Type", "Text/Event-Stream")], framing: .chunked), request())?.isStream == true)
        #expect(plan(response([("Content-Type", "text/event-stream ;charset=utf-8")], framing: .chunked), request())?.isStream == true)
        #expect(plan(response([("Content-Type", "text/event-streams")], framing: .chunked), request())?.isStream == false)
        #expect(plan(response([("Content-Type", "text/event")], framing: .chunked), request())?.isStream == false)
        let gzipped = plan(response([("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip")], framing: .chunked), request())
        #expect(gzipped?.isStream == false)
        let identity = plan(response([("Content-Type", "text/event-stream"), ("Content-Encoding", "Identity")], framing: .chunked), request())
        #expect(identity?.isStream == true)
        var forced = request()
        forced.forceStream = true
        #expect(plan(response([("Content-Type", "application/json")], framing: .chunked), forced)?.isStream == true)
        #expect(plan(response([("Content-Type", "application/json")], framing: .chunked), request())?.isStream == false)
    }

    @Test func drainingClosesTheConnection() {
        var draining = request()
        draining.draining = true
        let p = plan(response([]), draining)
        #expect(p?.keepAlive == false)
        #expect(fields(p).contains("Connection: close"))
    }

    @Test func requestIDReplacesTheUpstreams() {
        #expect(fields(plan(response([("x-request-id", "up-1"), ("X-Request-Id", "up-2")]), request())) == ["X-Request-Id: rid-1"])
    }

    @Test func corsGrantsAnAllowedOriginAndAlwaysVaries() {
        var facts = request()
        facts.cors = CORSPolicy(origins: .list([WebOrigin("https://app.test")!]))
        facts.origin = "https://app.test"
        #expect(fields(plan(response([("Vary", "Accept")]), facts)) == [
            "X-Request-Id: rid-1", "Access-Control-Allow-Origin: https://app.test", "Access-Control-Allow-Credentials: true",
            "Vary: Accept, Origin",
        ])
        facts.origin = "https://evil.test"
        #expect(fields(plan(response([]), facts)) == ["X-Request-Id: rid-1", "Vary: Origin"])
    }

    @Test func noStoreIsAddedOnce() {
        var facts = request()
        facts.requiresNoStore = true
        #expect(fields(plan(response([]), facts)) == ["X-Request-Id: rid-1", "Cache-Control: no-store"])
        #expect(fields(plan(response([("Cache-Control", "max-age=5")]), facts)) == ["X-Request-Id: rid-1", "Cache-Control: max-age=5, no-store"])
        #expect(fields(plan(response([("Cache-Control", "No-Store")]), facts)) == ["Cache-Control: No-Store", "X-Request-Id: rid-1"])
    }
}
