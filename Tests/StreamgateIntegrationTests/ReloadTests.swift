import Foundation
import StreamgateIO
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live reload in-process (`Gateway.reload`, what SIGHUP calls): new requests see the new
/// config at once, everything already running keeps the one it started with.
@Suite(.serialized) struct ReloadTests {
    private static func routes(demoPort: UInt16, _ routes: String) -> String {
        """
        [gateway]
        workers = 2
        drain_timeout = "2s"
        [limits]
        max_connections = 4000
        [upstreams.demo]
        targets = ["127.0.0.1:\(demoPort)"]
        connect_timeout = "2s"
        read_timeout = "10s"
        \(routes)
        """
    }

    /// One worker, one upstream, one catch-all route: reloads that change only `read_timeout`.
    private static func oneUpstream(port: UInt16, readTimeout: String) -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "1s"
        [upstreams.up]
        targets = ["127.0.0.1:\(port)"]
        read_timeout = "\(readTimeout)"
        [[routes]]
        name = "all"
        path_prefix = "/"
        upstream = "up"
        """
    }

    /// A thousand live streams across a reload that changes the route table: new requests
    /// are routed by the new table, and every stream keeps receiving, each event whole and
    /// none missing (the demo upstream numbers them consecutively).
    @Test func reloadChangesRoutingWhileAThousandStreamsKeepFlowing() throws {
        _ = ProcessLimits.raiseOpenFileLimit()
        let demo = try DemoUpstreamProcess()
        let before = Self.routes(demoPort: demo.port, """
            [[routes]]
            name = "events"
            path = "/events"
            upstream = "demo"
            [[routes]]
            name = "old"
            path_prefix = "/old/"
            strip_prefix = true
            upstream = "demo"
            """)
        let after = Self.routes(demoPort: demo.port, """
            [[routes]]
            name = "events"
            path = "/events"
            upstream = "demo"
            keepalive = "1s"
            [[routes]]
            name = "new"
            path_prefix = "/new/"
            strip_prefix = true
            upstream = "demo"
            """)
        let gw = try GatewayHarness(toml: before, workers: 2)
        let fleet = try StreamFleet(port: gw.port, count: 1000, path: "/events?rate=4")
        try fleet.read(timeout: 20) { $0.events.count >= 1 }
        let baseline = fleet.streams.map(\.events.count)

        let old = try gw.client()
        old.send("GET /old/plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try old.readResponse().status == 200, "the old table routes /old/")

        try gw.reload(toml: after)

        let c = try gw.client()
        c.send("GET /new/plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 200, "the new table routes /new/")
        c.send("GET /old/plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 404, "the removed route is gone for new requests")
        old.send("GET /old/plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try old.readResponse().status == 404, "a kept-alive connection's next request uses the new table")

        try fleet.read(timeout: 20) { s in s.events.count >= 3 + baseline[fleet.index(of: s)] }
        for (i, s) in fleet.streams.enumerated() {
            #expect(!s.isFinished, "stream \(i) ended across the reload (\(s.ending))")
            let ids = s.events.compactMap { Int($0.lastEventID) }
            #expect(ids.count == s.events.count, "stream \(i): an event without a numeric id")
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $1 == $0 + 1 }, "stream \(i): events missing or repeated: \(ids)")
            #expect(s.events.allSatisfy { $0.data.hasPrefix("{\"seq\":") && $0.data.hasSuffix("}") }, "stream \(i): a split event")
            if i >= 20 { break }  // the first failures say enough; the checks below cover all
        }
        let broken = fleet.streams.filter { s in
            let ids = s.events.compactMap { Int($0.lastEventID) }
            return s.isFinished || ids.count != s.events.count || !zip(ids, ids.dropFirst()).allSatisfy { $1 == $0 + 1 }
        }
        #expect(broken.isEmpty, "\(broken.count) of 1000 streams lost, split or ended events across the reload")
    }

    /// An upstream configured exactly as before keeps its pool (and its warm connections);
    /// a changed one gets a new pool, and the old one keeps nothing idle.
    @Test func unchangedUpstreamsKeepTheirPoolChangedOnesStartAfresh() throws {
        let up = try ScriptedUpstream()
        let config = { (readTimeout: String) in Self.oneUpstream(port: up.port, readTimeout: readTimeout) }
        let gw = try GatewayHarness(toml: config("5s"))
        let c = try gw.client()
        c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        #expect(try c.readResponse().bodyText == "1")

        try gw.reload(toml: config("5s"))
        c.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try u.readHead().hasPrefix("GET /2 "), "the pooled connection survives a reload that leaves the upstream alone")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        #expect(try c.readResponse().bodyText == "2")

        try gw.reload(toml: config("6s"))
        #expect(u.readUntilClosed().cleanEOF, "the replaced pool closes its idle connection")
        c.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /3 "))
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3")
        #expect(try c.readResponse().bodyText == "3")
    }

    /// A request already sent upstream when the reload lands finishes on its old pool; its
    /// connection is closed afterwards instead of being kept by a pool nobody uses.
    @Test func aRequestInFlightFinishesOnItsOldPool() throws {
        let up = try ScriptedUpstream()
        let config = { (readTimeout: String) in Self.oneUpstream(port: up.port, readTimeout: readTimeout) }
        let gw = try GatewayHarness(toml: config("5s"))
        let c = try gw.client()
        c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        try gw.reload(toml: config("7s"))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
        #expect(try c.readResponse().bodyText == "slow")
        #expect(u.readUntilClosed().cleanEOF, "a retired pool keeps nothing idle")
    }

    /// Listeners: an added one accepts at once; a removed one stops accepting, while a
    /// connection it already accepted is served to its end.
    @Test func listenersAreAddedAndRemovedWithoutDisturbingOpenConnections() throws {
        let up = try ScriptedUpstream()
        let toml = simpleConfig(upstreamPort: up.port)
        let gw = try GatewayHarness(toml: toml)
        let oldPort = gw.port
        let kept = try gw.client()
        try gw.reload(toml: toml, listeners: "[[listeners]]\naddress = \"127.0.0.2:0\"\n")
        #expect(gw.gateway.boundAddresses.count == 1)
        let newPort = try #require(gw.gateway.boundAddresses.first).port
        #expect(CLIChild.connectRefused(port: oldPort), "the removed listener no longer accepts")

        let fresh = try RawClient(port: newPort, host: "127.0.0.2")
        fresh.send("GET /new HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /new "))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew")
        #expect(try fresh.readResponse().bodyText == "new")

        kept.send("GET /kept HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try u.readHead().hasPrefix("GET /kept "))
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkept")
        #expect(try kept.readResponse().bodyText == "kept", "a connection accepted before the reload is still served")
    }

    /// A listener that cannot be bound makes the whole reload fail: nothing changes.
    @Test func aListenerThatCannotBeBoundRefusesTheWholeReload() throws {
        let up = try ScriptedUpstream()
        let taken = try ScriptedUpstream()  // holds a port, listening
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let changed = simpleConfig(upstreamPort: up.port) + "\n[[routes]]\nname = \"extra\"\npath = \"/extra\"\nupstream = \"up\"\n"
        #expect(throws: (any Error).self) {
            try gw.reload(toml: changed, listeners: "[[listeners]]\naddress = \"127.0.0.1:0\"\n[[listeners]]\naddress = \"0.0.0.0:\(taken.port)\"\n")
        }
        let c = try gw.client()
        c.send("GET /extra HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nall")
        let r = try c.readResponse()
        #expect(r.bodyText == "all")
        let log = gw.accessLog()
        #expect(log.last?["route"] as? String == "all", "the old table is still in force")
    }

    /// The session cache survives a reload that leaves the session settings alone (a session
    /// deleted from Redis is still served from it, as it would be without the reload); a
    /// change to them starts a new store that reads Redis again. A stream opened before either
    /// keeps its revocation channel.
    @Test func sessionCacheSurvivesAReloadUnlessSessionSettingsChange() throws {
        let rig = try AuthRig(sessions: "cache_ttl = \"60s\"")
        let token = randomToken("reload")
        rig.redis.putSession(token)
        try rig.redis.waitForSubscribers()
        let stream = try rig.stream("/api/events", ["Authorization: Bearer \(token)"])
        #expect(stream.status == 200)
        try stream.waitForMoreTicks(1)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        let lookups = rig.hgetallCalls
        rig.redis.cli(["DEL", sessionKey(token)])

        try rig.reload(sessions: "cache_ttl = \"60s\"")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200, "answered from the cache kept across the reload")
        #expect(rig.hgetallCalls == lookups)

        try rig.reload(sessions: "cache_ttl = \"30s\"")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 401, "a new store reads Redis, where the session is gone")

        // The stream opened under the first store kept flowing, and still hears revocations
        // through that store.
        try stream.waitForMoreTicks(2)
        #expect(rig.redis.revoke(token) >= 1)
        #expect(stream.waitForEnd(timeout: 3), "revoked across two reloads (ended \(stream.ended), closed \(stream.closed))")
    }
}

/// Many event streams read by one thread with poll(2).
final class StreamFleet {
    let streams: [SSETestClient]
    private let indexByFD: [Int32: Int]

    init(port: UInt16, count: Int, path: String) throws {
        var streams: [SSETestClient] = []
        for _ in 0..<count {
            let s = SSETestClient(raw: try RawClient(port: port, timeout: 10))
            s.sendRequest(path: path)
            streams.append(s)
        }
        for s in streams { try s.readHead() }
        self.streams = streams
        var map: [Int32: Int] = [:]
        for (i, s) in streams.enumerated() { map[s.raw.fd] = i }
        indexByFD = map
    }

    func index(of s: SSETestClient) -> Int { indexByFD[s.raw.fd]! }

    /// Reads whatever arrives on any stream until `done` holds for every one of them.
    func read(timeout: Double, until done: (SSETestClient) -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var pending = Set(streams.indices.filter { !done(streams[$0]) })
        while !pending.isEmpty {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw TestError("\(pending.count) of \(streams.count) streams did not get there in \(timeout)s") }
            var fds = streams.map { pollfd(fd: $0.raw.fd, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if n <= 0 { continue }
            for (i, p) in fds.enumerated() where p.revents != 0 {
                _ = streams[i].pump()
                if pending.contains(i), done(streams[i]) { pending.remove(i) }
            }
        }
    }
}
