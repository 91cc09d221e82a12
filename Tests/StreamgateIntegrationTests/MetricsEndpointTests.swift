import Foundation
import Testing
@testable import Streamgate
#if canImport(Glibc)
import Glibc
#endif

/// `/metrics` read by the reference Prometheus parser (see `PrometheusParser`) after real
/// traffic through a real gateway, upstream and redis-server: the whole text must parse, and
/// each counter must have moved by exactly what the test did.
@Suite struct MetricsEndpointTests {
    static let routes = """
        [[routes]]
        name = "open"
        path_prefix = "/open/"
        upstream = "up"
        auth = "none"

        [[routes]]
        name = "ka"
        path_prefix = "/ka/"
        upstream = "up"
        auth = "none"
        keepalive = "40ms"

        [[routes]]
        name = "we\\"ird\\\\route"
        path_prefix = "/weird/"
        upstream = "up"
        auth = "none"

        [[routes]]
        name = "broken"
        path_prefix = "/broken/"
        upstream = "down"
        auth = "none"

        [[routes]]
        name = "scoped"
        path_prefix = "/scoped/"
        upstream = "up"
        scopes = ["events:read"]

        [[routes]]
        name = "tenant"
        path = "/v1/tenants/{tenant}/events"
        upstream = "up"
        tenant_param = "tenant"

        [[routes]]
        name = "cors"
        path_prefix = "/lc/"
        upstream = "up"
        cors_origins = ["http://app.test:8080"]

        [[routes]]
        name = "api"
        path_prefix = "/api/"
        upstream = "up"
        """

    /// The payload of the recording upstream's event `n` (`id: n` / `data: tick n`).
    static func eventBytes(_ n: Int) -> Int { "id: \(n)\ndata: tick \(n)\n\n".utf8.count }

    @Test func countersMoveByWhatTheTrafficDidAndTheParserAcceptsAll() throws {
        let closedPort = try Self.closedPort()
        let rig = try AuthRig(sections: """
            [upstreams.down]
            targets = ["127.0.0.1:\(closedPort)"]
            connect_timeout = "1s"
            """, routes: Self.routes, admin: true)
        var connections = 0
        func get(_ target: String, _ headers: [String] = []) throws -> HTTPTestResponse {
            connections += 1
            return try rig.get(target, headers)
        }

        // Plain requests, a route whose name needs escaping, no route, a refused connect, garbage.
        for _ in 0..<3 { #expect(try get("/open/x").status == 200) }
        #expect(try get("/weird/x").status == 200)
        #expect(try get("/nowhere").status == 404)
        #expect(try get("/broken/x").status == 502)
        do {
            let garbage = try rig.gateway.client()
            connections += 1
            garbage.send("NOT HTTP\r\n\r\n")
            #expect(try garbage.readResponse().status == 400)
        }

        // A stream that the upstream ends after 3 events, with keepalives between them.
        connections += 1
        let keepalivesSeen: Int
        do {
            let ka = try rig.stream("/ka/events?count=3&interval_ms=200")
            #expect(ka.status == 200)
            #expect(ka.wait(timeout: 5) { $0.ended }, "the upstream ends the stream")
            keepalivesSeen = ka.body.components(separatedBy: ": keepalive\n\n").count - 1
            #expect(ka.ticks == 3 && keepalivesSeen >= 1)
        }

        // A stream the client leaves: open while it runs, ended by the client after.
        connections += 1
        let open = try rig.stream("/open/events?interval_ms=20")
        try open.waitForMoreTicks(3)
        let whileOpen = try Self.waitForMetrics(rig) { $0.value("streamgate_streams_open", ["route": "open"]) == 1 }
        #expect(whileOpen.value("streamgate_streams_open", ["route": "open"]) == 1)
        #expect(whileOpen.value("streamgate_streams_started_total", ["route": "open"]) == 1)
        let ticksSeen = open.ticks
        open.client.reset()

        // Auth: a good token (a miss, then hits), and one denial of each kind.
        let good = randomToken("good"), unknown = randomToken("unknown"), expired = randomToken("expired")
        let unscoped = randomToken("unscoped"), later = randomToken("later")
        rig.redis.putSession(good, tenant: "acme", scopes: "events:read")
        rig.redis.putSession(expired, expiresAt: String(Int(Date().timeIntervalSince1970) - 10))
        rig.redis.putSession(unscoped, scopes: "other")
        rig.redis.putSession(later)
        #expect(try get("/api/x", ["Authorization: Bearer \(good)"]).status == 200)  // miss
        #expect(try get("/api/x", ["Authorization: Bearer \(good)"]).status == 200)  // hit
        #expect(try get("/v1/tenants/other/events", ["Authorization: Bearer \(good)"]).status == 403)  // hit
        #expect(try get("/lc/x", ["Authorization: Bearer \(good)", "Origin: https://evil.example"]).status == 403)  // hit
        #expect(try get("/api/x", ["Authorization: Bearer \(unknown)"]).status == 401)  // miss
        #expect(try get("/api/x", ["Authorization: Bearer \(expired)"]).status == 401)  // miss
        #expect(try get("/scoped/x", ["Authorization: Bearer \(unscoped)"]).status == 403)  // miss
        #expect(try get("/api/x").status == 401)  // no lookup
        rig.redis.kill()
        let unavailable = try get("/api/x", ["Authorization: Bearer \(later)"])  // miss, the read fails
        #expect(unavailable.status == 503)
        #expect(unavailable.bodyText == #"{"error":"temporarily_unavailable","error_description":"the session store is unavailable; retry later"}"#)

        // Published about once a second: wait for the last things done, then check everything.
        let (contentType, text, m) = try Self.waitForMetricsText(rig) { m in
            m.value("streamgate_auth_outcomes_total", ["route": "api", "outcome": "store_unavailable"]) == 1
                && m.value("streamgate_streams_ended_total", ["route": "open", "reason": "client"]) == 1
                && m.sum("streamgate_redis_reconnects_total") >= 1
                && m.value("streamgate_connections_open") == 0
        }
        #expect(contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(text.contains(#"route="we\"ird\\route""#), "the route label is escaped in the text")

        func requests(_ route: String, _ code: String) -> Double? {
            m.value("streamgate_http_requests_total", ["route": route, "code": code])
        }
        #expect(requests("open", "2xx") == 4)  // 3 plain + the stream the client left
        #expect(requests("ka", "2xx") == 1)
        #expect(requests(#"we"ird\route"#, "2xx") == 1)
        #expect(requests("", "4xx") == 2)  // 404 and the unparseable request
        #expect(requests("broken", "5xx") == 1)
        #expect(requests("api", "2xx") == 2 && requests("api", "4xx") == 3 && requests("api", "5xx") == 1)
        #expect(requests("tenant", "4xx") == 1 && requests("cors", "4xx") == 1 && requests("scoped", "4xx") == 1)
        #expect(m.sum("streamgate_http_requests_total") == Double(connections))  // one request per connection
        #expect(m.value("streamgate_bad_requests_total") == 1)

        // Durations for everything but streams; first byte for upstream responses only.
        func count(_ family: String, _ route: String) -> Double? { m.value(family + "_count", ["route": route]) }
        #expect(count("streamgate_http_request_duration_seconds", "open") == 3)
        #expect(count("streamgate_http_request_duration_seconds", "ka") == 0)
        #expect(count("streamgate_http_request_duration_seconds", "api") == 6)
        #expect(count("streamgate_http_request_duration_seconds", "") == 2)
        #expect(count("streamgate_upstream_first_byte_seconds", "open") == 3)
        #expect(count("streamgate_upstream_first_byte_seconds", "api") == 2)
        #expect(count("streamgate_upstream_first_byte_seconds", "ka") == 0)
        #expect(count("streamgate_upstream_first_byte_seconds", "broken") == 0)
        #expect((m.value("streamgate_http_request_duration_seconds_sum", ["route": "open"]) ?? 0) > 0)

        // Streams.
        #expect(m.value("streamgate_streams_open", ["route": "open"]) == 0)
        #expect(m.value("streamgate_streams_started_total", ["route": "ka"]) == 1)
        #expect(m.value("streamgate_streams_ended_total", ["route": "ka", "reason": "upstream_end"]) == 1)
        #expect(m.sum("streamgate_streams_ended_total") == 2, "one end each, nothing else")
        #expect(m.value("streamgate_relayed_events_total", ["route": "ka"]) == 3)
        #expect(m.value("streamgate_keepalives_sent_total", ["route": "ka"]) == Double(keepalivesSeen))
        #expect(m.value("streamgate_keepalives_sent_total", ["route": "open"]) == 0)
        let openEvents = m.value("streamgate_relayed_events_total", ["route": "open"]) ?? 0
        #expect(openEvents >= Double(ticksSeen))
        #expect(m.value("streamgate_relayed_bytes_total", ["route": "ka"]) == Double((1...3).map(Self.eventBytes).reduce(0, +)))
        #expect(m.value("streamgate_relayed_bytes_total", ["route": #"we"ird\route"#]) == 3)  // "ok\n"
        #expect(m.value("streamgate_relayed_bytes_total", ["route": "api"]) == 6)
        #expect((m.value("streamgate_relayed_bytes_total", ["route": "open"]) ?? 0)
            >= Double(9 + (1...ticksSeen).map(Self.eventBytes).reduce(0, +)))

        // Auth outcomes, per route.
        func auth(_ route: String, _ outcome: String) -> Double? {
            m.value("streamgate_auth_outcomes_total", ["route": route, "outcome": outcome])
        }
        #expect(auth("api", "ok") == 2 && auth("api", "missing") == 1 && auth("api", "invalid") == 1)
        #expect(auth("api", "expired") == 1 && auth("api", "store_unavailable") == 1)
        #expect(auth("scoped", "scope") == 1 && auth("tenant", "tenant") == 1 && auth("cors", "origin") == 1)
        #expect(m.sum("streamgate_auth_outcomes_total") == 9)
        #expect(m.sum("streamgate_auth_outcomes_total", matching: ["route": "open"]) == 0, "routes without auth count none")

        // Session cache and Redis.
        #expect(m.value("streamgate_session_cache_hits_total") == 3)
        #expect(m.value("streamgate_session_cache_misses_total") == 5)
        #expect(m.value("streamgate_session_store_lookups_total") == 5)
        #expect(m.value("streamgate_redis_lookup_duration_seconds_count") == 5)
        #expect(m.value("streamgate_redis_lookup_errors_total") == 1)
        #expect((m.value("streamgate_session_cache_entries") ?? 0) >= 1)

        // Upstreams: every exchange on `up` opened or reused a connection, each opened one connected.
        let opened = m.value("streamgate_upstream_connections_opened_total", ["upstream": "up"]) ?? -1
        let reused = m.value("streamgate_upstream_connections_reused_total", ["upstream": "up"]) ?? -1
        #expect(opened >= 1 && opened + reused == Double(rig.upstream.requests.count))
        #expect(m.value("streamgate_upstream_connect_duration_seconds_count", ["upstream": "up"]) == opened)
        #expect(m.value("streamgate_upstream_connect_errors_total", ["upstream": "up"]) == 0)
        #expect(m.value("streamgate_upstream_connect_errors_total", ["upstream": "down"]) == 1)
        #expect(m.value("streamgate_upstream_connect_duration_seconds_count", ["upstream": "down"]) == 0)

        // Connections and process.
        #expect(m.value("streamgate_connections_accepted_total") == Double(connections))
        let build = m.first { $0.name == "streamgate_build_info" }
        #expect(build?.value == 1 && build?.labels["version"] == "0.1.0")
        #expect(build?.labels["swift"]?.hasPrefix("6.") == true)
        #expect(m.value("streamgate_config_reloads_total", ["result": "success"]) == 0)
        #expect(m.value("streamgate_draining") == 0)

        // The access log names each denial's reason, and only denials have one.
        let lines = rig.gateway.accessLog(minLines: connections)
        let denies = lines.compactMap { $0["deny"] as? String }.sorted()
        #expect(denies == ["expired", "invalid", "missing", "origin", "scope", "store_unavailable", "tenant"])
        #expect(lines.filter { $0["deny"] != nil }.allSatisfy { ($0["status"] as? Int ?? 0) >= 400 })
    }

    /// Route counters belong to route names: a reload that reorders, adds and removes routes
    /// neither resets nor moves them, and a removed route's total stays exported. Upstream and
    /// session-store counters carry over when their pool or store is replaced.
    @Test func reloadNeverTurnsACounterBack() throws {
        let rig = try AuthRig(routes: """
            [[routes]]
            name = "a"
            path_prefix = "/a/"
            upstream = "up"
            auth = "none"

            [[routes]]
            name = "b"
            path_prefix = "/b/"
            upstream = "up"
            """, admin: true)
        let token = randomToken()
        rig.redis.putSession(token)
        #expect(try rig.get("/a/x").status == 200)
        for _ in 0..<2 { #expect(try rig.get("/b/x", ["Authorization: Bearer \(token)"]).status == 200) }
        let before = try Self.waitForMetrics(rig) {
            $0.value("streamgate_http_requests_total", ["route": "b", "code": "2xx"]) == 2 && $0.value("streamgate_session_cache_hits_total") == 1
        }
        #expect(before.value("streamgate_session_store_lookups_total") == 1)

        // `a` goes, `c` comes first, `b` moves; the upstream changes (new pool) and so do the
        // session settings (new store, empty cache).
        try rig.gateway.reload(toml: AuthRig.config(workers: 1, redisPort: rig.redis.port, redisTimeout: "1s", redisExtra: "",
                                                    sessions: "cache_ttl = \"20s\"", sections: "", upstreamPort: rig.upstream.port,
                                                    routes: """
            [[routes]]
            name = "c"
            path_prefix = "/c/"
            upstream = "up"
            auth = "none"

            [[routes]]
            name = "b"
            path_prefix = "/b/"
            upstream = "up"
            """).replacingOccurrences(of: "connect_timeout = \"1s\"", with: "connect_timeout = \"2s\""))
        // The new route shows once the worker has published after the reload.
        let afterReload = try Self.waitForMetrics(rig) { $0.value("streamgate_http_requests_total", ["route": "c", "code": "2xx"]) != nil }
        #expect(afterReload.value("streamgate_config_reloads_total", ["result": "success"]) == 1)
        #expect(afterReload.value("streamgate_http_requests_total", ["route": "b", "code": "2xx"]) == 2)
        #expect(afterReload.value("streamgate_http_requests_total", ["route": "a", "code": "2xx"]) == 1)
        #expect(afterReload.value("streamgate_http_requests_total", ["route": "c", "code": "2xx"]) == 0)
        #expect(afterReload.value("streamgate_session_cache_hits_total") == 1)
        #expect(afterReload.value("streamgate_session_store_lookups_total") == 1)

        #expect(try rig.get("/c/x").status == 200)
        #expect(try rig.get("/b/x", ["Authorization: Bearer \(token)"]).status == 200)  // the new store's first lookup
        let after = try Self.waitForMetrics(rig) { $0.value("streamgate_http_requests_total", ["route": "b", "code": "2xx"]) == 3 }
        #expect(after.value("streamgate_http_requests_total", ["route": "c", "code": "2xx"]) == 1)
        #expect(after.value("streamgate_http_requests_total", ["route": "a", "code": "2xx"]) == 1)
        #expect(after.value("streamgate_auth_outcomes_total", ["route": "b", "outcome": "ok"]) == 3)
        #expect(after.value("streamgate_session_store_lookups_total") == 2)
        #expect(after.value("streamgate_session_cache_misses_total") == 2)
        let opened = after.value("streamgate_upstream_connections_opened_total", ["upstream": "up"]) ?? -1
        let reused = after.value("streamgate_upstream_connections_reused_total", ["upstream": "up"]) ?? -1
        #expect(opened >= 2, "the reload replaced the pool")
        #expect(opened + reused == 5)
    }

    /// Workers may have given a route different slots (each has its own registry): the
    /// endpoint sums by name, never by slot.
    @Test func workersAreSummedByNameNotSlot() throws {
        var w0 = WorkerMetrics(), w1 = WorkerMetrics()
        w0.routeNames = ["", "a", "b"]
        w1.routeNames = ["", "b", "gone", "a"]
        w0.routes = Array(repeating: RouteCounters(), count: 3)
        w1.routes = Array(repeating: RouteCounters(), count: 4)
        w0.responded(slot: 1, status: 200, elapsedNanos: 3_000_000)  // a
        w0.responded(slot: 2, status: 503, elapsedNanos: 700_000_000)  // b
        w1.responded(slot: 1, status: 204, elapsedNanos: 40_000_000_000)  // b
        w1.responded(slot: 2, status: 404, elapsedNanos: 0)  // gone
        w1.responded(slot: 3, status: 201, elapsedNanos: 1_000_000)  // a
        w0.routes[2].streamsOpen = 2
        w1.routes[1].streamsOpen = 1
        w0.authenticated(slot: 1, .tenant)
        w1.authenticated(slot: 3, .tenant)
        w0.upstreamNames = ["up"]; w0.upstreams = [UpstreamCounters(opened: 2, reused: 5, connectErrors: 1)]
        w1.upstreamNames = ["up"]; w1.upstreams = [UpstreamCounters(opened: 1, reused: 0, connectErrors: 2)]
        let text = MetricsExposition.render([w0, w1], draining: false, reloads: (1, 0), configDigest: "abc")
        let m = try PrometheusParser.parse(text)
        #expect(m.value("streamgate_http_requests_total", ["route": "a", "code": "2xx"]) == 2)
        #expect(m.value("streamgate_http_requests_total", ["route": "b", "code": "2xx"]) == 1)
        #expect(m.value("streamgate_http_requests_total", ["route": "b", "code": "5xx"]) == 1)
        #expect(m.value("streamgate_http_requests_total", ["route": "gone", "code": "4xx"]) == 1)
        #expect(m.value("streamgate_http_request_duration_seconds_count", ["route": "b"]) == 2)
        #expect(m.value("streamgate_http_request_duration_seconds_bucket", ["route": "b", "le": "30"]) == 1, "40 s is past the last bound")
        #expect(m.value("streamgate_http_request_duration_seconds_bucket", ["route": "b", "le": "+Inf"]) == 2)
        #expect(m.value("streamgate_http_request_duration_seconds_sum", ["route": "b"]) == 40.7)
        #expect(m.value("streamgate_streams_open", ["route": "b"]) == 3)
        #expect(m.value("streamgate_auth_outcomes_total", ["route": "a", "outcome": "tenant"]) == 2)
        #expect(m.value("streamgate_upstream_connections_opened_total", ["upstream": "up"]) == 3)
        #expect(m.value("streamgate_upstream_connect_errors_total", ["upstream": "up"]) == 3)
        #expect(m.value("streamgate_config_info", ["sha256": "abc"]) == 1)
        #expect(m.filter { $0.name == "streamgate_http_requests_total" && $0.labels["route"] == "a" }.count == 5, "one series per class")
    }

    // MARK: - Helpers

    static func scrape(_ rig: AuthRig) throws -> (contentType: String?, text: String) {
        let c = try RawClient(port: rig.gateway.adminPort)
        c.send("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
        let r = try c.readResponse()
        guard r.status == 200 else { throw TestError("/metrics answered \(r.status)") }
        return (r.header("content-type"), r.bodyText)
    }

    /// Scrapes and parses until `condition` holds (workers publish about once a second; there
    /// is no event to wait on from outside), bounded; every scrape must parse.
    static func waitForMetricsText(_ rig: AuthRig, timeout: Double = 15,
                                   until condition: ([PromSample]) -> Bool) throws -> (String?, String, [PromSample]) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let (contentType, text) = try scrape(rig)
            let samples = try PrometheusParser.parse(text)
            if condition(samples) || Date() >= deadline { return (contentType, text, samples) }
            usleep(200_000)
        }
    }

    static func waitForMetrics(_ rig: AuthRig, timeout: Double = 15, until condition: ([PromSample]) -> Bool) throws -> [PromSample] {
        try waitForMetricsText(rig, timeout: timeout, until: condition).2
    }

    /// A port nothing listens on: bound by us, then closed.
    static func closedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw TestError("bind failed: errno \(errno)") }
        return UInt16(bigEndian: addr.sin_port)
    }
}
