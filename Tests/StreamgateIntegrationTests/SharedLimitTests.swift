import Foundation
import Testing
@testable import Streamgate
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

/// `[limits] shared = true`: per-user and per-tenant stream limits counted across gateway
/// instances in a real redis-server, with leases that expire when an instance dies. Each
/// in-process `GatewayHarness` is an instance of its own (its own limiter and leases); the
/// instance that is killed is a `streamgate` process.
@Suite struct SharedLimitTests {
    /// The tables every instance shares, after its listener: Redis, shared limits, two limited
    /// routes (upstream `demo`) and a catch-all.
    static func tables(redisPort: Int, leaseTTL: String, redisTimeout: String = "1s") -> String {
        """
        [redis]
        url = "redis://127.0.0.1:\(redisPort)/0"
        timeout = "\(redisTimeout)"

        [limits]
        shared = true
        lease_ttl = "\(leaseTTL)"

        [[routes]]
        name = "user-limited"
        path_prefix = "/api/"
        upstream = "demo"
        max_streams_per_user = 2

        [[routes]]
        name = "tenant-limited"
        path_prefix = "/t/"
        upstream = "demo"
        max_streams_per_tenant = 2

        [[routes]]
        name = "one-per-user"
        path_prefix = "/one/"
        upstream = "demo"
        max_streams_per_user = 1
        """
    }

    static func config(redisPort: Int, upstreamPort: UInt16, leaseTTL: String, redisTimeout: String = "1s") -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "1s"

        [upstreams.demo]
        targets = ["127.0.0.1:\(upstreamPort)"]
        connect_timeout = "1s"
        read_timeout = "5s"

        \(tables(redisPort: redisPort, leaseTTL: leaseTTL, redisTimeout: redisTimeout))
        """
    }

    /// Redis, a recording upstream (`.../events` streams forever) and `count` gateways.
    final class Fleet {
        let redis: RedisServer
        let upstream: RecordingUpstream
        var gateways: [GatewayHarness] = []

        init(count: Int, leaseTTL: String = "30s", redisTimeout: String = "1s") throws {
            redis = try RedisServer()
            upstream = try RecordingUpstream()
            for _ in 0..<count {
                gateways.append(try GatewayHarness(toml: SharedLimitTests.config(redisPort: redis.port, upstreamPort: upstream.port,
                                                                                  leaseTTL: leaseTTL, redisTimeout: redisTimeout)))
            }
        }

        deinit {
            for g in gateways { g.stop() }
            upstream.stop()
            redis.stop()
        }

        /// A token with a session for `user` in `tenant`; the request header lines for a stream.
        func session(user: String, tenant: String = "acme") -> [String] {
            let token = randomToken(user)
            redis.putSession(token, user: user, tenant: tenant)
            return ["Authorization: Bearer \(token)", "Accept: text/event-stream"]
        }

        func members(_ key: String) -> [String] {
            redis.cli(["ZRANGE", key, "0", "-1"]).split(separator: "\n").map(String.init)
        }
    }

    static func stream(port: UInt16, _ target: String, _ headers: [String]) throws -> EventStreamReader {
        let c = try RawClient(port: port)
        c.send(AuthRig.requestText(target: target, headers: headers))
        return try EventStreamReader(client: c)
    }

    static func get(port: UInt16, _ target: String, _ headers: [String]) throws -> HTTPTestResponse {
        let c = try RawClient(port: port)
        c.send(AuthRig.requestText(target: target, headers: headers))
        return try c.readResponse()
    }

    /// Asks for a stream until one is admitted (the slot is freed by an event the test cannot
    /// observe directly); returns it, or nil at the deadline.
    static func streamWhenAdmitted(port: UInt16, _ target: String, _ headers: [String], within seconds: Double) throws -> EventStreamReader? {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            let s = try stream(port: port, target, headers)
            if s.status == 200 { return s }
            #expect(s.status == 429, "only the limit may refuse: \(s.status)")
            usleep(20_000)
        } while Date() < deadline
        return nil
    }

    static let aliceKey = "streamgate:limit:user:acme:alice"

    @Test func userLimitHoldsAcrossInstancesAndASlotFreesWhenAStreamEnds() throws {
        let fleet = try Fleet(count: 2)
        let (a, b) = (fleet.gateways[0], fleet.gateways[1])
        let alice = fleet.session(user: "alice")
        let s1 = try Self.stream(port: a.port, "/api/events", alice)
        let s2 = try Self.stream(port: b.port, "/api/events", alice)
        #expect(s1.status == 200 && s2.status == 200)
        #expect(fleet.members(Self.aliceKey).count == 2, "one lease per stream, whichever instance holds it")

        // Each instance holds one stream, under its own limit of 2: only the fleet count refuses.
        for gw in [a, b] {
            let refused = try Self.get(port: gw.port, "/api/events", alice)
            #expect(refused.status == 429)
            #expect(refused.header("retry-after") == "5")
            #expect(refused.bodyText.contains("\"error\":\"too_many_streams\""))
            #expect(refused.bodyText.contains("the user's limit of 2 concurrent streams is reached"), "\(refused.bodyText)")
            #expect(gw.accessLog(minLines: 1).contains { $0["status"] as? Int == 429 && $0["outcome"] as? String == "limit_user" })
        }
        #expect(fleet.members(Self.aliceKey).count == 2, "a refusal adds nothing")
        let bob = fleet.session(user: "bob")
        #expect(try Self.stream(port: a.port, "/api/events", bob).status == 200, "another user has slots of their own")

        // The stream on B ends: its lease goes at once (not at expiry: the ttl is 30 s).
        s2.client.reset()
        #expect(waitUntil { fleet.members(Self.aliceKey).count == 1 }, "members: \(fleet.members(Self.aliceKey))")
        let again = try Self.streamWhenAdmitted(port: a.port, "/api/events", alice, within: 5)
        #expect(again != nil, "the freed slot admits a stream on the other instance")
        withExtendedLifetime((s1, again)) {}
    }

    @Test func tenantLimitCountsEveryUserOfTheTenantAcrossInstances() throws {
        let fleet = try Fleet(count: 2)
        let (a, b) = (fleet.gateways[0], fleet.gateways[1])
        let s1 = try Self.stream(port: a.port, "/t/events", fleet.session(user: "u1"))
        let s2 = try Self.stream(port: b.port, "/t/events", fleet.session(user: "u2"))
        #expect(s1.status == 200 && s2.status == 200)
        let refused = try Self.get(port: a.port, "/t/events", fleet.session(user: "u3"))
        #expect(refused.status == 429)
        #expect(refused.bodyText.contains("the tenant's limit of 2 concurrent streams is reached"), "\(refused.bodyText)")
        #expect(a.accessLog(minLines: 1).contains { $0["outcome"] as? String == "limit_tenant" })
        #expect(try Self.stream(port: b.port, "/t/events", fleet.session(user: "u4", tenant: "globex")).status == 200)
        #expect(fleet.members("streamgate:limit:tenant:acme").count == 2)
        withExtendedLifetime((s1, s2)) {}
    }

    /// A `streamgate` process holding alice's only slot is killed: nobody releases its lease,
    /// which stops being renewed and runs out within `lease_ttl`; until then the other
    /// instance refuses. While the process lives, renewals keep the lease past its first expiry.
    @Test func slotsOfAKilledInstanceFreeWithinTheLeaseTTL() throws {
        let redis = try RedisServer()
        let upstream = try RecordingUpstream()
        let dir = try CLITempDir()
        let a = try CLIGateway(dir: dir, name: "a", upstreamPort: upstream.port,
                               extraConfig: Self.tables(redisPort: redis.port, leaseTTL: "1s", redisTimeout: "250ms"))
        let b = try GatewayHarness(toml: Self.config(redisPort: redis.port, upstreamPort: upstream.port, leaseTTL: "1s", redisTimeout: "250ms"))
        let token = randomToken("alice")
        redis.putSession(token, user: "alice", tenant: "acme")
        let alice = ["Authorization: Bearer \(token)", "Accept: text/event-stream"]

        let held = try Self.stream(port: a.port, "/one/events", alice)
        #expect(held.status == 200)
        let members = redis.cli(["ZRANGE", Self.aliceKey, "0", "-1", "WITHSCORES"]).split(separator: "\n").map(String.init)
        #expect(members.count == 2, "\(members)")
        let firstExpiry = Int64(Double(members.last ?? "") ?? 0)
        // Redis' own clock decides expiry: wait until it is past the lease's first expiry.
        #expect(waitUntil(timeout: 5) { Self.redisMilliseconds(redis) > firstExpiry + 200 })
        #expect(redis.cli(["ZSCORE", Self.aliceKey, members[0]]).isEmpty == false, "still counted past its first expiry")
        #expect(Int64(Double(redis.cli(["ZSCORE", Self.aliceKey, members[0]])) ?? 0) > firstExpiry, "renewed")
        #expect(try Self.get(port: b.port, "/one/events", alice).status == 429, "the other instance sees the slot taken")

        a.process.signal(SIGKILL)
        #expect(a.process.waitForExit(timeout: 5) == 128 + SIGKILL)
        let killedAt = Date()
        #expect(redis.cli(["ZRANGE", Self.aliceKey, "0", "-1"]) == members[0], "nothing released the dead instance's lease")
        let admitted = try Self.streamWhenAdmitted(port: b.port, "/one/events", alice, within: 4)
        let waited = Date().timeIntervalSince(killedAt)
        #expect(admitted != nil, "the slot never came back")
        // The lease was renewed at most a third of lease_ttl before the kill: it ends within
        // lease_ttl of it (the margin is for requests on a busy machine).
        #expect(waited < 2.5, "freed after \(waited) s with lease_ttl 1s")
        withExtendedLifetime((held, admitted)) {}
    }

    static func redisMilliseconds(_ redis: RedisServer) -> Int64 {
        let parts = redis.cli(["TIME"]).split(separator: "\n")
        guard parts.count == 2, let s = Int64(parts[0]), let us = Int64(parts[1]) else { return 0 }
        return s * 1000 + us / 1000
    }

    /// A client that leaves while Redis is still counting its stream: when the answer comes,
    /// the lease it was given is released at once, not left to expire (lease_ttl 30 s).
    @Test func clientLeavingWhileRedisCountsDoesNotLeakALease() throws {
        let fleet = try Fleet(count: 1, redisTimeout: "5s")
        let gw = fleet.gateways[0]
        let alice = fleet.session(user: "alice")
        let held = try Self.stream(port: gw.port, "/api/events", alice)  // also caches alice's session
        #expect(held.status == 200)
        let evalsBefore = fleet.redis.commandCalls("evalsha") + fleet.redis.commandCalls("eval")
        let zremsBefore = fleet.redis.commandCalls("zrem")

        fleet.redis.pause()
        let c = try RawClient(port: gw.port)
        c.send(AuthRig.requestText(target: "/api/events", headers: alice))
        c.shutdownWrite()
        #expect(c.waitForClose().closed, "the gateway noticed the client leave while it waited for Redis")
        fleet.redis.resume()

        #expect(waitUntil { fleet.redis.commandCalls("evalsha") + fleet.redis.commandCalls("eval") > evalsBefore }, "the admission script ran")
        #expect(waitUntil { fleet.redis.commandCalls("zrem") > zremsBefore && fleet.members(Self.aliceKey).count == 1 },
                "the late lease was released: \(fleet.members(Self.aliceKey))")
        #expect(fleet.upstream.requests.count == 1, "the abandoned request was never forwarded")
        withExtendedLifetime(held) {}
    }

    /// Redis down: streams are admitted on each instance's own count (never unlimited), and
    /// once Redis is back (empty, as after a restart) the next renewal writes the streams
    /// admitted meanwhile, so the fleet count is right again.
    @Test func whileRedisIsDownTheInstanceCountHoldsAndRenewalsRestoreTheFleetCount() throws {
        let fleet = try Fleet(count: 2, leaseTTL: "3s", redisTimeout: "250ms")
        let (a, b) = (fleet.gateways[0], fleet.gateways[1])
        let alice = fleet.session(user: "alice")
        // Cache alice's session on A (the stream ends at once: its slot is free again).
        let primer = try Self.stream(port: a.port, "/one/events", alice)
        #expect(primer.status == 200)
        primer.client.reset()
        #expect(waitUntil { fleet.members(Self.aliceKey).isEmpty })

        fleet.redis.stop()
        let during = try Self.streamWhenAdmitted(port: a.port, "/one/events", alice, within: 5)
        #expect(during != nil, "admitted on the instance's own count")
        let second = try Self.get(port: a.port, "/one/events", alice)
        #expect(second.status == 429, "the instance's own count still applies the limit")
        #expect(waitUntil { a.errorLogText.contains("admitted on this instance's own count") }, "\(a.errorLogText)")

        try fleet.redis.start()
        let token = alice[0].split(separator: " ").last.map(String.init) ?? ""
        fleet.redis.putSession(token, user: "alice", tenant: "acme")
        #expect(waitUntil(timeout: 15) { fleet.members(Self.aliceKey).count == 1 }, "the next renewal wrote the lease")
        // B reconnects to Redis on its own backoff: until then it answers 503 (alice's session
        // is not in its cache), which says nothing about the limit.
        var status = 0
        #expect(waitUntil(timeout: 10) {
            status = (try? Self.get(port: b.port, "/one/events", alice).status) ?? 0
            return status != 503
        })
        #expect(status == 429, "the fleet count includes the stream admitted during the outage")
        withExtendedLifetime(during) {}
    }

    /// A drained instance's streams end at an event boundary and their leases are removed
    /// before its loops stop: a rolling restart does not leave slots taken until they expire.
    @Test func drainReleasesLeasesBeforeTheInstanceStops() throws {
        let fleet = try Fleet(count: 1)
        let alice = fleet.session(user: "alice")
        let streams = try (0..<2).map { _ in try Self.stream(port: fleet.gateways[0].port, "/api/events", alice) }
        #expect(streams.allSatisfy { $0.status == 200 })
        #expect(fleet.members(Self.aliceKey).count == 2)
        fleet.gateways[0].stop()
        #expect(fleet.members(Self.aliceKey).isEmpty, "left behind: \(fleet.members(Self.aliceKey))")
        #expect(streams.allSatisfy { $0.waitForEnd(timeout: 2) }, "the streams ended cleanly")
    }

    /// Streams still mid-event at `drain_timeout` are cut in the same loop turn that stops
    /// the instance: their releases still reach Redis first.
    @Test func forcedEndOfDrainReleasesLeasesToo() throws {
        let redis = try RedisServer()
        let upstream = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: Self.config(redisPort: redis.port, upstreamPort: upstream.port, leaseTTL: "30s"))
        let token = randomToken("alice")
        redis.putSession(token, user: "alice", tenant: "acme")
        let c = try RawClient(port: gw.port)
        c.send(AuthRig.requestText(target: "/api/events", headers: ["Authorization: Bearer \(token)", "Accept: text/event-stream"]))
        let u = try upstream.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: hal\r\n")
        let s = try EventStreamReader(client: c)
        #expect(s.status == 200)
        #expect(s.wait(timeout: 2) { $0.body == "data: hal" }, "the half event was relayed: \(s.body)")
        #expect(redis.cli(["ZCARD", Self.aliceKey]) == "1")
        gw.stop()  // drain_timeout 1s: the stream never reaches a boundary and is cut
        #expect(redis.cli(["ZCARD", Self.aliceKey]) == "0", "the cut stream's lease was released before the loop stopped")
        withExtendedLifetime(u) {}
    }

    @Test func keysEscapeTheSeparator() {
        let limits = StreamgateCore.StreamLimits(perRoute: 1, perUser: 2, perTenant: 3)
        #expect(StreamLeases.wanted(user: "c", tenant: "a:b", limits: limits).map(\.key)
                == ["streamgate:limit:user:a%3Ab:c", "streamgate:limit:tenant:a%3Ab"])
        #expect(StreamLeases.wanted(user: "b:c", tenant: "a", limits: limits).map(\.key)
                == ["streamgate:limit:user:a:b%3Ac", "streamgate:limit:tenant:a"])
        #expect(StreamLeases.wanted(user: "50%", tenant: nil, limits: limits).map(\.key) == ["streamgate:limit:user::50%25"])
        #expect(StreamLeases.wanted(user: nil, tenant: "t", limits: StreamgateCore.StreamLimits(perUser: 2)).isEmpty)
    }
}
