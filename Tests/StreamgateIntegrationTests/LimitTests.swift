import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Concurrent-stream limits (per user, tenant, route: 429 past them, the slot back when a
/// stream ends) and connection limits (per client IP; idle keep-alive connections shed first).
@Suite struct LimitTests {
    private static let routes = """
        [[routes]]
        name = "events"
        path_prefix = "/api/"
        upstream = "up"
        max_streams_per_user = 2

        [[routes]]
        name = "tenant-events"
        path_prefix = "/t/"
        upstream = "up"
        max_streams_per_user = 0
        max_streams_per_tenant = 3

        [[routes]]
        name = "open"
        path_prefix = "/open/"
        upstream = "up"
        auth = "none"
        max_streams = 1
        """

    /// The user's third stream gets a 429 naming the limit; when one stream ends the slot is
    /// free again. Plain requests (not asking for an event stream) are not counted.
    @Test func perUserLimitRefusesWithRetryAfterAndFreesTheSlot() throws {
        let rig = try AuthRig(routes: Self.routes)
        let token = randomToken("limit")
        rig.redis.putSession(token, user: "alice", tenant: "acme")
        let auth = ["Authorization: Bearer \(token)", "Accept: text/event-stream"]
        let s1 = try rig.stream("/api/events", auth)
        let s2 = try rig.stream("/api/events", auth)
        #expect(s1.status == 200 && s2.status == 200)
        let refused = try rig.get("/api/events", auth)
        #expect(refused.status == 429)
        #expect(refused.header("retry-after") == "5")
        #expect(refused.bodyText.contains("\"error\":\"too_many_streams\""))
        #expect(refused.bodyText.contains("user's limit of 2"), "\(refused.bodyText)")
        #expect(try rig.get("/api/plain", ["Authorization: Bearer \(token)"]).status == 200, "plain requests are not streams")

        let other = randomToken("limit")
        rig.redis.putSession(other, user: "bob", tenant: "acme")
        #expect(try rig.stream("/api/events", ["Authorization: Bearer \(other)", "Accept: text/event-stream"]).status == 200,
                "another user has slots of their own")

        s1.client.reset()
        let deadline = Date().addingTimeInterval(5)
        var status = 0
        repeat {
            let c = try rig.gateway.client()
            c.send(AuthRig.requestText(target: "/api/events", headers: auth))
            status = try EventStreamReader(client: c).status
        } while status == 429 && Date() < deadline
        #expect(status == 200, "the slot came back when the first stream ended")
        let log = rig.gateway.accessLog(minLines: 3)
        #expect(log.contains { $0["status"] as? Int == 429 && $0["outcome"] as? String == "limit_user" })
        withExtendedLifetime(s2) {}
    }

    @Test func perTenantLimitCountsEveryUserOfTheTenant() throws {
        let rig = try AuthRig(routes: Self.routes)
        var streams: [EventStreamReader] = []
        for i in 0..<3 {
            let t = randomToken("tenant")
            rig.redis.putSession(t, user: "u\(i)", tenant: "acme")
            streams.append(try rig.stream("/t/events", ["Authorization: Bearer \(t)", "Accept: text/event-stream"]))
        }
        #expect(streams.allSatisfy { $0.status == 200 })
        let fourth = randomToken("tenant")
        rig.redis.putSession(fourth, user: "u4", tenant: "acme")
        let r = try rig.get("/t/events", ["Authorization: Bearer \(fourth)", "Accept: text/event-stream"])
        #expect(r.status == 429)
        #expect(r.bodyText.contains("tenant's limit of 3"))
        let elsewhere = randomToken("tenant")
        rig.redis.putSession(elsewhere, user: "u5", tenant: "globex")
        #expect(try rig.stream("/t/events", ["Authorization: Bearer \(elsewhere)", "Accept: text/event-stream"]).status == 200)
    }

    /// A route's own total applies without authentication too.
    @Test func perRouteLimitAppliesToAnonymousStreams() throws {
        let rig = try AuthRig(routes: Self.routes)
        let s = try rig.stream("/open/events", ["Accept: text/event-stream"])
        #expect(s.status == 200)
        let r = try rig.get("/open/events", ["Accept: text/event-stream"])
        #expect(r.status == 429)
        #expect(r.bodyText.contains("this route's limit of 1"))
    }

    @Test func configRefusesPerUserLimitsWithoutAuth() throws {
        let toml = simpleConfig(upstreamPort: 9, routeExtra: "max_streams_per_user = 3")
        #expect(throws: (any Error).self) { _ = try GatewayHarness(toml: toml) }
    }

    /// `max_connections_per_ip`: the connection past the limit is closed at once, the others
    /// are served, and a closed one makes room.
    @Test func connectionsPerIPAreCapped() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, extra: "[limits]\nmax_connections_per_ip = 2"))
        var a: RawClient? = try gw.client()
        let b = try gw.client()
        let c = try gw.client()
        #expect(c.waitForClose().closed, "the third connection from 127.0.0.1 is closed")
        b.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        #expect(try b.readResponse().bodyText == "b")
        a = nil
        // The close is seen by the gateway a loop turn later: connect until admitted.
        var admitted = false
        for _ in 0..<200 where !admitted {
            let d = try gw.client()
            d.send("GET /d HTTP/1.1\r\nHost: h\r\n\r\n")
            d.setTimeout(0.05)
            let refused = d.waitForClose().closed
            d.setTimeout(5)
            if !refused {
                admitted = true
                _ = try u.readHead()
                u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd")
                #expect(try d.readResponse().bodyText == "d")
            }
        }
        #expect(admitted, "a freed slot admits a new connection")
        _ = a
    }

    /// At `max_connections` an idle keep-alive connection is closed to admit a new one
    /// instead of the listener pausing.
    @Test func idleKeepAliveConnectionsAreShedFirst() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port, extra: "[limits]\nmax_connections = 2"))
        let idle = try gw.client()
        idle.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        #expect(try idle.readResponse().bodyText == "1")
        let busy = try gw.client()
        busy.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try u.readHead().hasPrefix("GET /2 "))
        let newcomer = try gw.client()
        #expect(idle.waitForClose().closed, "the idle keep-alive connection made room")
        newcomer.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        let u2 = try up.accept()
        #expect(try u2.readHead().hasPrefix("GET /3 "))
        u2.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3")
        #expect(try newcomer.readResponse().bodyText == "3")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        #expect(try busy.readResponse().bodyText == "2", "the busy connection was not touched")
    }
}
