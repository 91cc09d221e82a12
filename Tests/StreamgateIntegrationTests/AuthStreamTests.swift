import Foundation
@testable import Streamgate
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live streams and the session store: revocation, expiry, re-checks, and Redis outages.
/// Serialized: these tests measure time.
@Suite(.serialized) struct AuthStreamTests {
    @Test func revocationEndsLiveStreamAndEvictsCache() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "rev")
        let s = try rig.stream("/api/events", ["Authorization: Bearer \(token)"])
        #expect(s.status == 200)
        try s.waitForMoreTicks(2)
        try rig.redis.waitForSubscribers()
        rig.redis.cli(["DEL", sessionKey(token)])
        let start = Date()
        #expect(rig.redis.revoke(token) >= 1)
        #expect(s.waitForEnd(timeout: 1.5), "the stream ends after PUBLISH (ended \(s.ended), closed \(s.closed))")
        #expect(Date().timeIntervalSince(start) < 1.0)
        #expect(s.body.hasSuffix("\n\n"), "ended at an event boundary")
        let r = try rig.get("/api/x", ["Authorization: Bearer \(token)"])
        #expect(r.status == 401)
        #expect(!rig.gateway.accessLogText.contains(token))
    }

    @Test func revocationEvictsTheCachedSession() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "v1")
        try rig.redis.waitForSubscribers()
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(rig.hgetallCalls == 1)
        rig.redis.putSession(token, user: "v2")
        #expect(rig.redis.revoke(token) == 1)
        // The message travels on another connection than the request: poll (bounded).
        let deadline = Date().addingTimeInterval(2)
        var user: String?
        repeat {
            #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
            user = try rig.lastUpstreamRequest().header("X-Auth-User-Id")
        } while user != "v2" && Date() < deadline
        #expect(user == "v2", "after PUBLISH the session is read from Redis again")
        #expect(rig.hgetallCalls == 2)
        // Revoking a digest nobody uses, and garbage on the channel, change nothing.
        rig.redis.revoke(randomToken("other"))
        rig.redis.cli(["PUBLISH", "streamgate:revoked", "not-a-digest"])
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
    }

    @Test func expiryEndsStreamAtBoundaryWithFinalEvent() throws {
        let rig = try AuthRig()
        let token = randomToken()
        let expires = Int(Date().timeIntervalSince1970) + 2
        rig.redis.putSession(token, expiresAt: String(expires))
        let s = try rig.stream("/end/events?interval_ms=40", ["Authorization: Bearer \(token)"])
        #expect(s.status == 200)
        try s.waitForMoreTicks(2)
        #expect(s.waitForEnd(timeout: 4), "the stream ends at expiry (ended \(s.ended), closed \(s.closed))")
        let endedAt = Date().timeIntervalSince1970
        #expect(endedAt >= Double(expires) - 0.05 && endedAt < Double(expires) + 1.5, "ended at \(endedAt), expiry \(expires)")
        let events = s.body.components(separatedBy: "\n\n").dropLast()
        #expect(s.body.hasSuffix("\n\n"))
        #expect(events.last?.contains("event: session-expired") == true, "last event: \(events.last ?? "-")")
        #expect(events.dropLast().allSatisfy { $0.hasPrefix("id: ") && $0.contains("\ndata: tick ") }, "whole events only before it")
        #expect(s.ticks >= 10)
    }

    @Test func recheckEndsStreamWhenSessionDeleted() throws {
        let rig = try AuthRig(sessions: "recheck_interval = \"300ms\"\ncache_ttl = \"100ms\"")
        let token = randomToken()
        rig.redis.putSession(token)
        let s = try rig.stream("/api/events", ["Authorization: Bearer \(token)"])
        try s.waitForMoreTicks(2)
        // Still valid: re-checks keep it open.
        #expect(!s.wait(timeout: 0.8) { $0.ended || $0.closed }, "a valid session's stream stays open across re-checks")
        try s.waitForMoreTicks(1)
        let start = Date()
        rig.redis.cli(["DEL", sessionKey(token)])
        #expect(s.waitForEnd(timeout: 2), "ends without any PUBLISH")
        #expect(Date().timeIntervalSince(start) < 1.0)
        #expect(s.body.hasSuffix("\n\n"))
    }

    @Test func redisPausedStreamsStayCachedTokensWorkNewTokensGet503() throws {
        let rig = try AuthRig(redisTimeout: "200ms")
        let streamToken = randomToken("stream"), cached = randomToken("cached"), fresh = randomToken("fresh")
        for t in [streamToken, cached, fresh] { rig.redis.putSession(t, user: t) }
        let s = try rig.stream("/api/events", ["Authorization: Bearer \(streamToken)"])
        try s.waitForMoreTicks(1)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(cached)"]).status == 200)

        rig.redis.pause()
        defer { rig.redis.resume() }
        let start = Date()
        let r = try rig.get("/api/x", ["Authorization: Bearer \(fresh)"])
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 503)
        #expect(r.header("retry-after") != nil)
        #expect(r.header("cache-control") == "no-store")
        #expect(!r.bodyText.contains(fresh))
        #expect(elapsed < 1.0, "503 within about the 200 ms timeout, took \(elapsed)")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(cached)"]).status == 200, "cached tokens keep working")
        try s.waitForMoreTicks(5)
        #expect(!s.ended && !s.closed, "the open stream stays up")

        rig.redis.resume()
        #expect(try pollStatus(rig, fresh, want: 200) == 200, "recovers after SIGCONT without a gateway restart")
        #expect(rig.upstream.requests.last?.header("X-Auth-User-Id") == fresh)
        try s.waitForMoreTicks(1)
        #expect(!rig.gateway.errorLogText.contains(fresh))
    }

    @Test func redisRestartRecoversLookupsAndRevocation() throws {
        let rig = try AuthRig(redisTimeout: "200ms")
        let before = randomToken("before")
        rig.redis.putSession(before)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(before)"]).status == 200)
        rig.redis.kill()
        let during = randomToken("during")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(during)"]).status == 503)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(before)"]).status == 200, "cached while Redis is down")
        try rig.redis.start()
        let after = randomToken("after")
        rig.redis.putSession(after, user: "after-user")
        #expect(try pollStatus(rig, after, want: 200) == 200, "recovers after a restart")
        #expect(rig.upstream.requests.last?.header("X-Auth-User-Id") == "after-user")
        // The revocation subscription comes back too.
        try rig.redis.waitForSubscribers()
        let s = try rig.stream("/api/events", ["Authorization: Bearer \(after)"])
        try s.waitForMoreTicks(1)
        #expect(rig.redis.revoke(after) == 1)
        #expect(s.waitForEnd(timeout: 1.5))
    }

    @Test func revocationReachesStreamsOnEveryWorker() throws {
        let rig = try AuthRig(workers: 2)
        let token = randomToken()
        rig.redis.putSession(token)
        try rig.redis.waitForSubscribers(count: 2)
        let streams = try (0..<6).map { _ in try rig.stream("/api/events", ["Authorization: Bearer \(token)"]) }
        for s in streams { try s.waitForMoreTicks(1) }
        let other = randomToken("other")
        rig.redis.putSession(other)
        let survivor = try rig.stream("/api/events", ["Authorization: Bearer \(other)"])
        try survivor.waitForMoreTicks(1)
        rig.redis.cli(["DEL", sessionKey(token)])
        #expect(rig.redis.revoke(token) == 2)
        for (i, s) in streams.enumerated() { #expect(s.waitForEnd(timeout: 1.5), "stream \(i)") }
        try survivor.waitForMoreTicks(2)
        #expect(!survivor.ended && !survivor.closed, "other sessions' streams are untouched")
    }

    /// `expires_at` is whole seconds, but the moment it names is exact: a request at
    /// expires_at + 0.5 s is refused, so a stream must not outlive it by that much either.
    /// Opens the stream late in a wall-clock second, where whole-second arithmetic errs most.
    @Test
    func expiryDeadlineIsExactNotRoundedToSeconds() throws {
        let rig = try AuthRig()
        let token = randomToken()
        // Align to the last part of a second (bounded: at most one second of waiting).
        while Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1) < 0.6
                || Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1) > 0.8 { usleep(5_000) }
        let expires = Int(Date().timeIntervalSince1970) + 2
        rig.redis.putSession(token, expiresAt: String(expires))
        let s = try rig.stream("/end/events?interval_ms=20", ["Authorization: Bearer \(token)"])
        try s.waitForMoreTicks(1)
        #expect(s.waitForEnd(timeout: 4))
        let endedAt = Date().timeIntervalSince1970
        #expect(endedAt < Double(expires) + 0.3, "ended \(endedAt - Double(expires)) s after expires_at")
        #expect(endedAt >= Double(expires) - 0.05)
    }

    /// `echo $digest | redis-cli -x PUBLISH streamgate:revoked` sends the digest and a "\n".
    @Test func revocationPayloadMayEndInLineBreaksOrSpaces() throws {
        let rig = try AuthRig()
        try rig.redis.waitForSubscribers()
        for ending in ["\n", "\r", " \t\n", "\r\n"] {
            let token = randomToken()
            rig.redis.putSession(token)
            let s = try rig.stream("/api/events", ["Authorization: Bearer \(token)"])
            try s.waitForMoreTicks(1)
            #expect(rig.redis.cli(["PUBLISH", "streamgate:revoked", TestCrypto.sha256Hex(token) + ending]) == "1")
            #expect(s.waitForEnd(timeout: 1.5), "revoked with \(ending.debugDescription) after the digest")
        }
        // Not a digest (here a raw token published by mistake): counted and logged, by length only.
        let secret = randomToken("published-by-mistake")
        rig.redis.cli(["PUBLISH", "streamgate:revoked", secret + "\n"])
        #expect(try waitForMetric(rig) { $0.malformedRevocations } == 1)
        #expect(rig.gateway.errorLogText.contains("revocation message ignored"))
        #expect(!rig.gateway.errorLogText.contains(secret))
    }

    /// Re-checks ask Redis, not the cache: with `cache_ttl` far longer than
    /// `recheck_interval`, a deleted session still ends its streams within the interval, and
    /// the re-check's answer is what the next request gets.
    @Test func recheckReadsRedisNotTheCache() throws {
        let rig = try AuthRig(sessions: "recheck_interval = \"300ms\"\ncache_ttl = \"60s\"")
        let token = randomToken()
        rig.redis.putSession(token)
        let s = try rig.stream("/api/events", ["Authorization: Bearer \(token)"])
        try s.waitForMoreTicks(1)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        let lookups = rig.hgetallCalls
        #expect(!s.wait(timeout: 0.7) { $0.ended || $0.closed }, "a valid session's stream stays open across re-checks")
        #expect(rig.hgetallCalls > lookups, "the re-checks read Redis although the session is cached")
        let start = Date()
        rig.redis.cli(["DEL", sessionKey(token)])
        #expect(s.waitForEnd(timeout: 2), "ends without any PUBLISH, within recheck_interval, not cache_ttl")
        #expect(Date().timeIntervalSince(start) < 1.0)
        #expect(s.body.hasSuffix("\n\n"))
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 401, "the re-check refreshed the cache")
    }

    /// Web apps slide sessions: a re-check that finds a later `expires_at` moves the stream's
    /// end there, instead of ending it with a "session expired" that is no longer true.
    @Test func recheckFollowsASessionThatSlidLater() throws {
        let rig = try AuthRig(sessions: "recheck_interval = \"200ms\"")
        let token = randomToken()
        let opened = Int(Date().timeIntervalSince1970)
        rig.redis.putSession(token, expiresAt: String(opened + 2))
        let s = try rig.stream("/end/events?interval_ms=40", ["Authorization: Bearer \(token)"])
        try s.waitForMoreTicks(1)
        let slid = opened + 4
        rig.redis.cli(["HSET", sessionKey(token), "expires_at", String(slid)])
        let pastFirstExpiry = Double(opened + 2) + 0.5 - Date().timeIntervalSince1970
        #expect(!s.wait(timeout: pastFirstExpiry) { $0.ended || $0.closed }, "still streaming past the expiry it opened with")
        #expect(s.waitForEnd(timeout: 3))
        let endedAt = Date().timeIntervalSince1970
        #expect(endedAt >= Double(slid) - 0.05 && endedAt < Double(slid) + 0.5, "ended at \(endedAt), slid expiry \(slid)")
        #expect(s.body.components(separatedBy: "\n\n").dropLast().last?.contains("event: session-expired") == true)
    }

    /// And a session cut short (expiry moved earlier) ends its streams at the new expiry.
    @Test func recheckAppliesAnEarlierExpiry() throws {
        let rig = try AuthRig(sessions: "recheck_interval = \"200ms\"")
        let token = randomToken()
        rig.redis.putSession(token, expiresAt: String(Int(Date().timeIntervalSince1970) + 3600))
        let s = try rig.stream("/end/events?interval_ms=40", ["Authorization: Bearer \(token)"])
        try s.waitForMoreTicks(1)
        let cut = Int(Date().timeIntervalSince1970) + 2
        rig.redis.cli(["HSET", sessionKey(token), "expires_at", String(cut)])
        #expect(s.waitForEnd(timeout: 4), "ends at the earlier expiry (ended \(s.ended), closed \(s.closed))")
        let endedAt = Date().timeIntervalSince1970
        #expect(endedAt >= Double(cut) - 0.05 && endedAt < Double(cut) + 0.5, "ended at \(endedAt), new expiry \(cut)")
        #expect(s.body.components(separatedBy: "\n\n").dropLast().last?.contains("event: session-expired") == true)
    }

    /// Revocations published while the subscription was down are lost; once it is back,
    /// cached sessions are read from Redis again rather than trusted until cache_ttl.
    @Test func cacheIsReadAgainOnceTheRevocationSubscriptionIsBack() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "v1")
        try rig.redis.waitForSubscribers()
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(rig.redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"]) == "1")
        // Changed with nobody subscribed: the gateway cannot hear of it.
        rig.redis.putSession(token, user: "v2")
        try rig.redis.waitForSubscribers()
        let deadline = Date().addingTimeInterval(3)
        var user: String?
        repeat {
            #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
            user = try rig.lastUpstreamRequest().header("X-Auth-User-Id")
        } while user != "v2" && Date() < deadline
        #expect(user == "v2", "read again after resubscribing, not served from the 30 s cache")
        #expect(rig.hgetallCalls == 2)
    }

    /// Polls the worker metrics the admin endpoint reads (published once a second), bounded.
    private func waitForMetric(_ rig: AuthRig, timeout: Double = 3, _ value: (WorkerMetrics) -> UInt64) throws -> UInt64 {
        let deadline = Date().addingTimeInterval(timeout)
        var last: UInt64 = 0
        repeat {
            last = rig.gateway.gateway.metrics().reduce(0) { $0 + value($1) }
            if last > 0 { return last }
            usleep(20_000)
        } while Date() < deadline
        return last
    }

    /// Repeats a request (bounded) until it gets `want`; returns the last status.
    private func pollStatus(_ rig: AuthRig, _ token: String, want: Int, timeout: Double = 5) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var status = 0
        repeat {
            status = try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status
            if status != want { usleep(50_000) }
        } while status != want && Date() < deadline
        return status
    }
}
