import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The per-worker session cache and single-flight lookups, counted at the real Redis.
@Suite(.serialized) struct AuthCacheTests {
    @Test func cachedSessionsAndUnknownTokensAreNotLookedUpAgain() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "c")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(rig.hgetallCalls == 1)
        for header in ["Authorization: Bearer \(token)", "X-Api-Key: \(token)"] {
            #expect(try rig.get("/api/x", [header]).status == 200)
        }
        #expect(try rig.get("/q/x?access_token=\(token)").status == 200)
        #expect(rig.hgetallCalls == 1, "same token, any source: served from the cache")
        // Negative caching: an unknown token is looked up once within negative_ttl.
        let unknown = randomToken("unknown")
        for _ in 0..<3 { #expect(try rig.get("/api/x", ["Authorization: Bearer \(unknown)"]).status == 401) }
        #expect(rig.hgetallCalls == 2)
    }

    @Test func expiredCacheEntryIsReadAgain() throws {
        let rig = try AuthRig(sessions: "cache_ttl = \"100ms\"\nnegative_ttl = \"100ms\"")
        let token = randomToken()
        rig.redis.putSession(token, user: "before")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        rig.redis.putSession(token, user: "after")
        // Bounded polling: the cache entry's age is the only thing that changes.
        let deadline = Date().addingTimeInterval(3)
        var user: String?
        repeat {
            usleep(20_000)
            _ = try rig.get("/api/x", ["Authorization: Bearer \(token)"])
            user = try rig.lastUpstreamRequest().header("X-Auth-User-Id")
        } while user != "after" && Date() < deadline
        #expect(user == "after")
        #expect(rig.hgetallCalls >= 2)
    }

    /// 1,000 requests with one uncached token arrive while Redis is stopped: they all wait on
    /// one lookup. The route requires a scope the session lacks, so every answer is the
    /// gateway's own 403 (the upstream plays no part) and needed the session to decide.
    @Test func thousandConcurrentRequestsMakeOneLookup() throws {
        let rig = try AuthRig(redisTimeout: "10s")
        let token = randomToken()
        rig.redis.putSession(token, scopes: "nothing-useful")
        // Make sure the gateway's connection to Redis is up before freezing it.
        try rig.redis.waitForSubscribers()
        #expect(try rig.get("/scoped/warm", ["Authorization: Bearer \(randomToken("warm"))"]).status == 401)
        let before = rig.hgetallCalls
        let n = 1000
        var clients: [RawClient] = []
        clients.reserveCapacity(n)
        for _ in 0..<n { clients.append(try rig.gateway.client(timeout: 10)) }
        rig.redis.pause()
        let request = AuthRig.requestText(target: "/scoped/x", headers: ["Authorization: Bearer \(token)"])
        for c in clients { c.send(request) }
        // Let the gateway take in (most of) the requests while the lookup is stuck; what does
        // not arrive in time is a cache hit afterwards, which still makes no second lookup.
        usleep(200_000)
        rig.redis.resume()
        let statuses = LockedArray<Int>()
        // Each client is read by exactly one thread.
        let shared = UncheckedBox(clients)
        DispatchQueue.concurrentPerform(iterations: 8) { slice in
            for i in stride(from: slice, to: n, by: 8) {
                statuses.append((try? shared.value[i].readResponse().status) ?? -1)
            }
        }
        #expect(statuses.values.count == n)
        #expect(statuses.values.allSatisfy { $0 == 403 }, "statuses: \(Dictionary(grouping: statuses.values, by: { $0 }).mapValues(\.count))")
        #expect(rig.hgetallCalls - before == 1, "one lookup for \(n) concurrent requests")
        #expect(rig.upstream.requests.isEmpty)
    }
}

/// A thread-safe append-only array for collecting results from worker threads.
final class LockedArray<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ v: T) { lock.lock(); items.append(v); lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Hands a non-Sendable value to worker threads that use disjoint parts of it.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
