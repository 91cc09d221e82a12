import Foundation
import Testing
import StreamgateIO
import StreamgateTools
#if canImport(Glibc)
import Glibc
#endif

/// Long-lived Server-Sent Events relayed through the real gateway: against the real demo
/// upstream binary (`DemoUpstreamProcess`; build it first: `swift build --build-tests`) and
/// against a `ScriptedUpstream` whose every write the test chooses, read by a real SSE parser
/// (`SSETestClient`).
///
/// Every test closes its clients and stops the harness itself at the end: a stream still
/// open when the harness drains would hold the drain for its linger time.
@Suite(.serialized) struct StreamingTests {
    // MARK: Relaying, keepalives, event boundaries

    @Test func demoEventsArriveIntactInOrderWithKeepalivesBetweenThem() throws {
        let demo = try DemoUpstreamProcess()
        // keepalive from the global [sse] section: the route has no override.
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port, extra: "[sse]\nkeepalive = \"10ms\""))
        let c = try SSETestClient(port: gw.port, path: "/events?rate=50&count=20")
        #expect(c.status == 200)
        #expect(c.header("content-type")?.hasPrefix("text/event-stream") == true)
        #expect(c.framing == .chunked)
        #expect(c.header("content-length") == nil)
        try c.read(events: 1)
        #expect(!c.isFinished, "the first event must be relayed as it arrives, not when the stream ends")
        try c.read(until: { $0.isFinished }, what: "the end of the stream")

        #expect(c.ending == .terminatingChunk)
        #expect(c.events.count == 20)
        for (i, e) in c.events.enumerated() {
            #expect(e.hadID && e.lastEventID == "\(i + 1)")
            #expect(e.type == "tick")
            #expect(e.data.hasPrefix("{\"seq\":\(i + 1),") && e.data.hasSuffix("\"}"), "event \(i + 1) damaged: \(e.data.prefix(80))")
        }
        #expect(c.keepaliveCount > 0)
        #expect(c.comments.allSatisfy { $0 == " keepalive" })
        let firstEvent = c.items.firstIndex { if case .event = $0 { return true }; return false } ?? 0
        let lastEvent = c.items.lastIndex { if case .event = $0 { return true }; return false } ?? 0
        let between = c.items[firstEvent..<lastEvent].filter { if case .comment = $0 { return true }; return false }
        #expect(!between.isEmpty, "keepalives are interleaved between events (20 ms apart, keepalive 10 ms)")
        #expect(c.isAtEventBoundary)
        #expect(c.bytesAfterBody == 0)
        c.close()
        gw.stop()
    }

    @Test func eventSplitAcrossUpstreamWritesArrivesIntactWithoutKeepaliveInside() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "keepalive = \"10ms\""))
        let c = try SSETestClient(port: gw.port, path: "/split", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead)
        try c.readHead()
        try c.read(comments: 1)  // keepalives flow while the upstream is quiet at a boundary

        var payload = ""
        func write(_ s: String) { payload += s; u.send(Self.chunk(s)) }

        write("id: 7\r\ndata: hel")
        try c.read(bodyContaining: "data: hel")
        #expect(c.bytesArriving(within: 0.06) == 0, "a keepalive was written inside an event")
        // The line ends in CR; its LF comes in the next write. A keepalive here would make that
        // LF a blank line and dispatch half an event.
        write("lo\r")
        try c.read(bodyContaining: "hello\r")
        #expect(c.bytesArriving(within: 0.06) == 0, "a keepalive was written between the CR and LF of a CRLF")
        write("\ndata: world\r\n\r")
        try c.read(events: 1)
        write("\n")
        let before = c.commentCount
        try c.read(comments: before + 1)  // back at a boundary: keepalives resume

        write("data: second\n\n")
        try c.read(events: 2)
        u.send("0\r\n\r\n")
        try c.read(until: { $0.isFinished }, what: "the terminating chunk")

        #expect(c.events == [
            .init(type: "message", data: "hello\nworld", lastEventID: "7", hadID: true),
            .init(type: "message", data: "second", lastEventID: "7", hadID: false),
        ])
        #expect(c.bodyText.contains("id: 7\r\ndata: hello\r\ndata: world\r\n\r"), "the event's bytes must reach the client contiguous")
        #expect(c.bodyText.replacingOccurrences(of: ": keepalive\n\n", with: "") == payload,
                "apart from whole keepalive comments the body is exactly the upstream's bytes")
        #expect(c.keepaliveCount >= 2)
        #expect(c.ending == .terminatingChunk)
        c.close()
        gw.stop()
    }

    /// Chunk boundaries mean nothing in HTTP/1.1 (RFC 9112 §7.1): upstream chunks that arrive in
    /// one read leave as one client chunk, one size line and one CRLF around all their payload.
    @Test func upstreamChunksReadTogetherLeaveAsOneClientChunk() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let raw = try RawClient(port: gw.port)
        raw.send("GET /merge HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead)
        let head = try raw.readHead()
        #expect(head.lowercased().contains("transfer-encoding: chunked"))
        // One send on loopback: the three chunks reach the gateway's socket together.
        let events = ["data: a\n\n", "id: 2\ndata: bb\n\n", "event: x\ndata: ccc\n\n"]
        u.send(events.map(Self.chunk).joined())
        let payload = events.joined()
        let expected = Array((String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n").utf8)
        try raw.readUntil { $0.count >= expected.count }
        #expect(raw.buffer == expected, "\(String(decoding: raw.buffer, as: UTF8.self).debugDescription)")
        u.send("0\r\n\r\n")
        try raw.readUntil { $0.count >= expected.count + 5 }
        #expect(Array(raw.buffer.suffix(5)) == Array("0\r\n\r\n".utf8))
        gw.stop()
    }

    /// The relay reads a live stream's socket straight into a per-loop buffer and writes each
    /// read with one gathered write, queueing what the client's socket does not take. Here a
    /// burst far larger than one read, in chunks of every size with writes split anywhere
    /// (inside size lines, CRLFs and events), goes to a client that reads nothing until the
    /// upstream is done. 6 MB is more than loopback's socket buffers hold (4 MB send buffer at
    /// most), so writes turn partial and the rest waits in the queue.
    @Test func burstInAwkwardChunksReachesALaggingReaderByteExact() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "max_client_buffer = \"16MiB\""))
        let raw = try Self.connect(port: gw.port, receiveBuffer: 4096)
        raw.send("GET /burst HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()

        var rng = SeededRNG(seed: 0x5EED)
        var payload: [UInt8] = []
        var events = 0
        while payload.count < 6_000_000 {
            events += 1
            let filler = String(repeating: "x", count: Int(rng.next() % 900))
            payload += Array("id: \(events)\ndata: \(events) \(filler)\n\n".utf8)
        }
        var wire: [UInt8] = Array(Self.streamHead.utf8)
        var at = 0
        while at < payload.count {
            let n = min(payload.count - at, 1 + Int(rng.next() % 20_000))
            wire += Array((String(n, radix: 16) + "\r\n").utf8) + payload[at..<at + n] + Array("\r\n".utf8)
            at += n
        }
        wire += Array("0\r\n\r\n".utf8)
        var sent = 0
        while sent < wire.count {
            let n = min(wire.count - sent, 1 + Int(rng.next() % 70_000))
            u.send(Array(wire[sent..<sent + n]))
            sent += n
        }
        // The upstream has handed over everything; the gateway is holding most of it.
        let c = SSETestClient(raw: raw)
        try c.readHead()
        try c.read(until: { $0.isFinished }, what: "the terminating chunk")
        #expect(c.ending == .terminatingChunk)
        #expect(c.body == payload, "relayed \(c.body.count) bytes, expected \(payload.count), first difference at \(zip(c.body, payload).prefix { $0 == $1 }.count)")
        #expect(c.events.count == events)
        #expect(c.events.last?.lastEventID == "\(events)")
        c.close()
        gw.stop()
    }

    @Test func responseOnSSERouteWithoutEventStreamTypeIsStreamedChunked() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "sse = true"))
        let c = try SSETestClient(port: gw.port, path: "/plain-stream", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        let first = "data: one\n\n", second = "data: two\n\n"
        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(first.utf8.count + second.utf8.count)\r\n\r\n" + first)
        try c.readHead()
        #expect(c.framing == .chunked, "an sse route streams chunked even when the upstream sent a length")
        #expect(c.header("content-length") == nil)
        #expect(c.header("content-type") == "text/plain")
        try c.read(events: 1)  // before the upstream has sent the rest of its body
        u.send(second)
        try c.read(until: { $0.isFinished }, what: "the terminating chunk")
        #expect(c.ending == .terminatingChunk)
        #expect(c.events.map(\.data) == ["one", "two"])
        c.close()
        gw.stop()
    }

    // MARK: Ends

    @Test func clientLeavingClosesTheUpstreamConnectionWithinASecond() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try SSETestClient(port: gw.port, path: "/leave", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: one\n\n"))
        try c.readHead()
        try c.read(events: 1)
        c.close()
        u.setTimeout(2)
        let start = Date()
        let (closed, _) = u.waitForClose()
        let elapsed = Date().timeIntervalSince(start)
        #expect(closed, "the gateway kept the upstream stream open after its client left")
        #expect(elapsed < 1.0, "upstream closed only after \(elapsed)s")
        let line = Self.logLine(gw) { $0["path"] as? String == "/leave" }
        #expect(line?["outcome"] as? String == "client_gone")
        // The stream's upstream connection was not pooled: the next request needs a new one.
        let c2 = try gw.client()
        c2.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept(timeout: 2)
        _ = try u2.readHead()
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try c2.readResponse().bodyText == "ok")
        c2.shutdownWrite()
        gw.stop()
    }

    enum UpstreamFailure: String, CaseIterable, Sendable {
        case resetMidEvent, finMidEvent, finAtBoundaryWithoutLastChunk
    }

    @Test(arguments: UpstreamFailure.allCases)
    func upstreamFailingMidStreamAbortsTheClientWithoutTerminatingChunk(_ failure: UpstreamFailure) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try SSETestClient(port: gw.port, path: "/fail", readHead: false)
        var u: RawClient? = try up.accept()
        _ = try u!.readHead()
        u!.send(Self.streamHead + Self.chunk("id: 1\ndata: one\n\n") + Self.chunk("id: 2\ndata: two\n\n"))
        try c.readHead()
        try c.read(events: 2)
        if failure != .finAtBoundaryWithoutLastChunk {
            u!.send(Self.chunk("id: 3\ndata: thr"))
            try c.read(bodyContaining: "data: thr")
        }
        switch failure {
        case .resetMidEvent:
            Self.closeWithReset(&u)
        case .finMidEvent, .finAtBoundaryWithoutLastChunk:
            u!.shutdownWrite()
        }
        #expect(c.readToEnd(), "the client was not closed")
        #expect(c.ending == .reset || c.ending == .eofWithoutTerminator, "got \(c.ending): a broken stream must not end cleanly")
        #expect(c.events.map(\.data) == ["one", "two"], "complete events before the failure all arrive")
        #expect(c.events.last?.lastEventID == "2")
        let line = Self.logLine(gw) { $0["path"] as? String == "/fail" }
        #expect(line?["outcome"] as? String == (failure == .resetMidEvent ? "upstream_reset" : "upstream_truncated"))
        c.close()
        gw.stop()
    }

    @Test func maxStreamDurationEndsCleanlyAtAnEventBoundary() throws {
        let demo = try DemoUpstreamProcess()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port, routeExtra: "max_stream_duration = \"200ms\""))
        let start = Date()
        let c = try SSETestClient(port: gw.port, path: "/events?rate=50")
        #expect(c.readToEnd(), "the stream did not end")
        let elapsed = Date().timeIntervalSince(start)
        #expect(c.ending == .terminatingChunk)
        #expect(c.connectionClosed, "the connection closes after the ended stream")
        #expect(elapsed >= 0.19 && elapsed < 1.5, "ended after \(elapsed)s")
        #expect(c.isAtEventBoundary, "the last event must be complete")
        #expect(c.bodyText.hasSuffix("\n\n"))
        #expect(c.events.count >= 3 && c.events.count <= 20, "\(c.events.count) events in 200 ms at 50/s")
        for (i, e) in c.events.enumerated() { #expect(e.lastEventID == "\(i + 1)") }
        let line = Self.logLine(gw) { $0["path"] as? String == "/events" }
        #expect(line?["outcome"] as? String == "stream_max_duration")
        c.close()
        gw.stop()
    }

    @Test func maxStreamDurationDueMidEventWaitsForTheBoundary() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "max_stream_duration = \"200ms\""))
        let c = try SSETestClient(port: gw.port, path: "/mid", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: a\n\n") + Self.chunk("data: par"))
        try c.readHead()
        try c.read(bodyContaining: "data: par")
        // The deadline passes while an event is half sent: nothing may cut it.
        #expect(c.bytesArriving(within: 0.35) == 0)
        #expect(!c.connectionClosed && !c.isFinished, "the stream was cut mid-event")
        u.send(Self.chunk("tial\n\ndata: next\n\n"))
        #expect(c.readToEnd())
        #expect(c.ending == .terminatingChunk)
        #expect(c.events.map(\.data) == ["a", "partial"])
        #expect(!c.bodyText.contains("next"), "nothing past the boundary where the stream ended")
        u.setTimeout(2)
        #expect(u.waitForClose().closed, "the upstream of an ended stream is closed")
        c.close()
        gw.stop()
    }

    @Test
    func upstreamIdleTimeoutAtBoundaryEndsTheStreamCleanly() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port,
                                                       routeExtra: "upstream_idle_timeout = \"200ms\"\nkeepalive = \"50ms\""))
        let c = try SSETestClient(port: gw.port, path: "/idle", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: only\n\n"))
        try c.readHead()
        try c.read(events: 1)
        let start = Date()
        #expect(c.readToEnd())
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.1 && elapsed < 1.5, "ended after \(elapsed)s")
        #expect(c.keepaliveCount > 0, "keepalives to the client do not count as upstream activity")
        #expect(c.ending == .terminatingChunk, "an idle upstream at a boundary ends the stream cleanly")
        #expect(c.events.map(\.data) == ["only"])
        let line = Self.logLine(gw) { $0["path"] as? String == "/idle" }
        #expect(line?["outcome"] as? String == "stream_upstream_idle")
        u.setTimeout(2)
        #expect(u.waitForClose().closed)
        c.close()
        gw.stop()
    }

    /// read_timeout bounds the wait for the response head; once a stream is live, its quiet
    /// spells are upstream_idle_timeout's (off here). The socket timeout must not linger.
    @Test func quietStreamOutlivesTheHeadReadTimeout() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "read_timeout = \"300ms\""))
        let c = try SSETestClient(port: gw.port, path: "/quiet", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: first\n\n"))
        try c.readHead()
        try c.read(events: 1)
        _ = c.bytesArriving(within: 1.0)
        #expect(!c.connectionClosed && !c.isFinished, "the stream ended after read_timeout of upstream silence")
        u.send(Self.chunk("data: second\n\n"))
        try c.read(events: 2)
        #expect(c.events.map(\.data) == ["first", "second"])
        c.close()
        gw.stop()
    }

    @Test func upstreamIdleTimeoutMidEventAbortsTheClient() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, routeExtra: "upstream_idle_timeout = \"200ms\""))
        let c = try SSETestClient(port: gw.port, path: "/idle-mid", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: one\n\ndata: stuck"))
        try c.readHead()
        try c.read(bodyContaining: "stuck")
        let start = Date()
        #expect(c.readToEnd())
        #expect(Date().timeIntervalSince(start) < 1.5)
        #expect(c.ending == .reset || c.ending == .eofWithoutTerminator, "got \(c.ending)")
        #expect(c.events.map(\.data) == ["one"])
        c.close()
        gw.stop()
    }

    @Test func drainEndsOpenStreamsAtABoundaryQuickly() throws {
        let demo = try DemoUpstreamProcess()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port))
        let c = try SSETestClient(port: gw.port, path: "/events?rate=50")
        try c.read(events: 2)
        let start = Date()
        let stopper = Background { gw.stop() }
        #expect(c.readToEnd(), "the stream did not end on drain")
        let elapsed = Date().timeIntervalSince(start)
        c.close()
        stopper.join()
        #expect(c.ending == .terminatingChunk)
        #expect(c.isAtEventBoundary)
        #expect(elapsed < 1.0, "drain took \(elapsed)s to end the stream")
        #expect(Date().timeIntervalSince(start) < 1.5, "the gateway stopped only after the drain timeout")
        let line = Self.logLine(gw) { $0["path"] as? String == "/events" }
        #expect(line?["outcome"] as? String == "stream_draining")
    }

    @Test func drainDuringAnEventWaitsForItsEnd() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try SSETestClient(port: gw.port, path: "/drain-mid", readHead: false)
        let u = try up.accept()
        _ = try u.readHead()
        u.send(Self.streamHead + Self.chunk("data: a\n\n") + Self.chunk("data: b"))
        try c.readHead()
        try c.read(bodyContaining: "data: b")
        let stopper = Background { gw.stop() }
        #expect(c.bytesArriving(within: 0.1) == 0 && !c.connectionClosed, "drain cut the stream mid-event")
        u.send(Self.chunk("c\n\ndata: d\n\n"))
        #expect(c.readToEnd())
        c.close()
        stopper.join()
        #expect(c.ending == .terminatingChunk)
        #expect(c.events.map(\.data) == ["a", "bc"])
    }

    // MARK: Slow consumers

    @Test func slowConsumerIsCutWhileAnotherStreamKeepsFlowing() throws {
        let demo = try DemoUpstreamProcess()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port, routeExtra: "max_client_buffer = \"64KiB\""))
        let fast = try SSETestClient(port: gw.port, path: "/events?rate=1000&size=2000&id=1")
        try fast.read(events: 5)
        // A small receive window (set before connect so it is the advertised one), never read.
        let slowRaw = try Self.connect(port: gw.port, receiveBuffer: 4096)
        slowRaw.send("GET /events?rate=1000&size=2000&id=2 HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n")

        fast.raw.setTimeout(0.05)
        let deadline = Date().addingTimeInterval(10)
        var slowLine: [String: Any]?
        while slowLine == nil && Date() < deadline {
            fast.pump()
            slowLine = Self.parseLog(gw.accessLogText).first { $0["outcome"] as? String == "slow_consumer" }
        }
        fast.raw.setTimeout(5)
        #expect(slowLine != nil, "the client that reads nothing was never disconnected")
        #expect(slowLine?["path"] as? String == "/events")
        #expect(!fast.isFinished)
        let cutAt = fast.events.count
        try fast.read(events: cutAt + 100)
        #expect(fast.events.enumerated().allSatisfy { $0.element.lastEventID == "\($0.offset + 1)" },
                "the normal stream lost or reordered events")
        #expect(fast.events.allSatisfy { $0.data.contains("\"stream\":1") && $0.data.hasSuffix("\"}") })
        #expect(Self.parseLog(gw.accessLogText).count == 1, "only the slow stream ended")

        // What the slow client finds when it finally reads: a bounded amount, then no clean end.
        let slow = SSETestClient(raw: slowRaw)
        try slow.readHead()
        #expect(slow.readToEnd())
        #expect(slow.ending == .reset || slow.ending == .eofWithoutTerminator, "got \(slow.ending)")
        #expect(slow.body.count < 16 << 20, "slow client received \(slow.body.count) bytes")
        fast.close()
        gw.stop()
    }

    // MARK: Retry hint, Last-Event-ID

    @Test func retryHintIsTheFirstThingInTheBodyAndSentOnce() throws {
        let demo = try DemoUpstreamProcess()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port, routeExtra: "retry = \"3s\"\nkeepalive = \"10ms\""))
        let c = try SSETestClient(port: gw.port, path: "/events?rate=100&count=3")
        try c.read(until: { $0.isFinished }, what: "the end of the stream")
        #expect(c.body.starts(with: Array("retry: 3000\n\n".utf8)), "body starts with \(c.bodyText.prefix(40).debugDescription)")
        #expect(c.retry == 3000)
        #expect(c.retryCount == 1)
        #expect(c.events.count == 3)
        #expect(c.ending == .terminatingChunk)
        c.close()
        gw.stop()
    }

    @Test func lastEventIDIsForwardedUnchanged() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try SSETestClient(port: gw.port, path: "/resume", headers: ["Last-Event-ID: 41-abc_DEF.x:y z"], readHead: false)
        let u = try up.accept()
        let head = try u.readHead()
        #expect(head.contains("\r\nLast-Event-ID: 41-abc_DEF.x:y z\r\n"), "upstream got: \(head)")
        u.send(Self.streamHead + Self.chunk("id: 42\ndata: next\n\n") + "0\r\n\r\n")
        try c.readHead()
        try c.read(until: { $0.isFinished }, what: "the end of the stream")
        #expect(c.events.map(\.lastEventID) == ["42"])
        c.close()
        gw.stop()
    }

    @Test func demoUpstreamResumesAfterForwardedLastEventID() throws {
        let demo = try DemoUpstreamProcess()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: demo.port))
        let c = try SSETestClient(port: gw.port, path: "/events?rate=200&count=3", headers: ["Last-Event-ID: 41"])
        try c.read(until: { $0.isFinished }, what: "the end of the stream")
        #expect(c.events.map(\.lastEventID) == ["42", "43", "44"])
        c.close()
        gw.stop()
    }

    // MARK: - Helpers

    static let streamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"

    static func chunk(_ s: String) -> String { String(s.utf8.count, radix: 16) + "\r\n" + s + "\r\n" }

    static func parseLog(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The first access-log line matching `predicate`, polling the log for up to `timeout`.
    static func logLine(_ gw: GatewayHarness, timeout: Double = 3, where predicate: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let line = parseLog(gw.accessLogText).first(where: predicate) { return line }
            usleep(10_000)
        } while Date() < deadline
        return nil
    }

    /// Closes an upstream-side socket with RST (SO_LINGER 0, then close).
    static func closeWithReset(_ c: inout RawClient?) {
        guard let fd = c?.fd else { return }
        var lg = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        c = nil  // RawClient.deinit closes the fd
    }

    /// A client socket whose receive buffer is set before connecting.
    static func connect(port: UInt16, receiveBuffer: Int32) throws -> RawClient {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { let e = errno; Glibc.close(fd); throw TestError("connect to \(port) failed: errno \(e)") }
        return RawClient(fd: fd, timeout: 5)
    }
}

/// Runs a closure on its own thread (e.g. `GatewayHarness.stop()`, which blocks until the
/// drain is over, while the test reads the stream the drain ends).
final class Background: @unchecked Sendable {
    private var thread: ToolsThread?

    init(_ body: @escaping () -> Void) {
        let box = UncheckedSendableBox(body)
        thread = ToolsThread.start { box.value() }
    }

    func join() {
        thread?.join()
        thread = nil
    }

    deinit { join() }
}

struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The SSE client the streaming tests rely on, checked against hand-written bytes delivered
/// one byte per read over a socket pair (every split point is exercised).
@Suite struct SSETestClientSelfTests {
    /// Returns a client reading from one end of a socket pair and the other end's fd.
    private func pair() -> (SSETestClient, Int32) {
        var sv: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &sv) == 0)
        return (SSETestClient(raw: RawClient(fd: sv[0], timeout: 2)), sv[1])
    }

    private func feedBytewise(_ c: SSETestClient, _ fd: Int32, _ text: String) {
        for b in Array(text.utf8) {
            var byte = b
            _ = Glibc.send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
            c.pump()
        }
    }

    @Test func parsesLineEndingsFieldsAndCommentsAcrossEverySplit() throws {
        let (c, fd) = pair()
        defer { Glibc.close(fd) }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        _ = head.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        try c.readHead()
        #expect(c.status == 200 && c.framing == .chunked)
        let stream = "\u{FEFF}: hi\r\n"            // BOM dropped; comment
            + "retry: 1500\n" + "retry: 1x\n"       // valid retry, then an ignored one
            + "id: 1\rdata: a\r\rdata\n\n"          // CR endings; "data" alone = empty line
            + "event: ping\r\ndata: b1\r\ndata:b2\r\n\r\n"
            + "id: bad\u{0}id\nevent: x\n\n"        // NUL id ignored; no data: nothing dispatched
            + ": keepalive\n\n"
            + "data: c\n\n"
            + "data: partial"
        let chunked = String(stream.utf8.count, radix: 16) + ";ext=1\r\n" + stream + "\r\n" + "0\r\n\r\n"
        feedBytewise(c, fd, chunked)
        #expect(c.events == [
            .init(type: "message", data: "a", lastEventID: "1", hadID: true),
            .init(type: "message", data: "", lastEventID: "1", hadID: false),
            .init(type: "ping", data: "b1\nb2", lastEventID: "1", hadID: false),
            .init(type: "message", data: "c", lastEventID: "1", hadID: false),
        ])
        #expect(c.comments == [" hi", " keepalive"])
        #expect(c.keepaliveCount == 1)
        #expect(c.retry == 1500 && c.retryCount == 1)
        #expect(c.ending == .terminatingChunk)
        #expect(!c.isAtEventBoundary, "a partial event is pending")
        #expect(c.body == Array(stream.utf8))
    }

    @Test func eofWithoutTerminatingChunkIsReportedAsSuch() throws {
        let (c, fd) = pair()
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: x\n\n\r\n"
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        Glibc.close(fd)
        try c.readHead()
        #expect(c.readToEnd())
        #expect(c.events.map(\.data) == ["x"])
        #expect(c.ending == .eofWithoutTerminator)
        #expect(c.isAtEventBoundary)
    }
}
