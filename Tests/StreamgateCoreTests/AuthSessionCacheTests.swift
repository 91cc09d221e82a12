import Testing
@testable import StreamgateCore

@Suite("AuthSessionCache")
struct AuthSessionCacheTests {
    typealias Cache = SessionCache<Int>

    static func digest(_ n: Int) -> TokenDigest {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8(n & 0xFF)
        bytes[1] = UInt8(n >> 8 & 0xFF)
        return TokenDigest(bytes: bytes)!
    }

    static func at(_ seconds: Double) -> NanoTime { NanoTime(nanoseconds: UInt64(seconds * 1e9)) }

    let wall: Int64 = 1_700_000_000
    let record = SessionRecord(userID: "u", tenantID: "t", expiresAt: nil)

    func isStartFetch(_ l: Cache.Lookup) -> Bool { if case .startFetch = l { true } else { false } }
    func isJoined(_ l: Cache.Lookup) -> Bool { if case .joinedPending = l { true } else { false } }
    func isNegative(_ l: Cache.Lookup) -> Bool { if case .negativeHit = l { true } else { false } }
    func hitRecord(_ l: Cache.Lookup) -> SessionRecord? { if case .hit(let r) = l { r } else { nil } }

    /// Fills `digest` with `result` through the public API.
    func fill(_ cache: inout Cache, _ d: TokenDigest, _ result: Cache.FetchResult, now: NanoTime = .zero, wallNow: Int64? = nil) {
        #expect(isStartFetch(cache.lookup(d, now: now, wallNow: wallNow ?? wall, waiter: 0)))
        _ = cache.complete(d, result: result, now: now, wallNow: wallNow ?? wall)
    }

    @Test func singleFlightWithThousandWaiters() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        var starts = 0
        for i in 0..<1000 {
            let l = cache.lookup(d, now: .zero, wallNow: wall, waiter: i)
            if isStartFetch(l) { starts += 1 } else { #expect(isJoined(l)) }
        }
        #expect(starts == 1)
        #expect(cache.pendingCount == 1 && cache.count == 0)
        let waiters = cache.complete(d, result: .found(record, keyTTL: nil), now: .zero, wallNow: wall)
        #expect(waiters == Array(0..<1000))
        #expect(cache.pendingCount == 0)
        #expect(hitRecord(cache.lookup(d, now: Self.at(1), wallNow: wall, waiter: 0)) == record)
        #expect(cache.complete(d, result: .notFound, now: .zero, wallNow: wall).isEmpty)  // no fetch in flight
    }

    /// `cached` answers hits without registering anyone, and a miss leaves no pending fetch:
    /// the caller then goes through `lookup`, which starts exactly one.
    @Test func cachedAnswersHitsAndLeavesMissesToLookup() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let found = Self.digest(1), missing = Self.digest(2), unknown = Self.digest(3)
        #expect(cache.cached(found, now: .zero, wallNow: wall) == nil)
        #expect(cache.pendingCount == 0)
        fill(&cache, found, .found(record, keyTTL: nil))
        fill(&cache, unknown, .notFound)
        #expect(cache.cached(found, now: Self.at(1), wallNow: wall).flatMap(hitRecord) == record)
        #expect(cache.cached(unknown, now: Self.at(1), wallNow: wall).map(isNegative) == true)
        #expect(cache.cached(missing, now: Self.at(1), wallNow: wall) == nil)
        #expect(cache.pendingCount == 0)
        // Stale entries are dropped on sight, and the next lookup fetches.
        #expect(cache.cached(unknown, now: Self.at(5), wallNow: wall) == nil)
        #expect(cache.count == 1)
        #expect(isStartFetch(cache.lookup(unknown, now: Self.at(5), wallNow: wall, waiter: 0)))
    }

    @Test func positiveTTLIsCacheTTL() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(record, keyTTL: nil))
        #expect(hitRecord(cache.lookup(d, now: Self.at(29.999), wallNow: wall, waiter: 0)) != nil)
        #expect(isStartFetch(cache.lookup(d, now: Self.at(30), wallNow: wall, waiter: 0)))
    }

    @Test func ttlNeverPastSessionExpiry() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        let expiring = SessionRecord(userID: "u", tenantID: "t", expiresAt: wall + 10)
        fill(&cache, d, .found(expiring, keyTTL: nil))
        #expect(hitRecord(cache.lookup(d, now: Self.at(9.999), wallNow: wall + 9, waiter: 0)) != nil)
        #expect(isStartFetch(cache.lookup(d, now: Self.at(10), wallNow: wall + 10, waiter: 0)))
    }

    @Test func ttlNeverPastKeyTTL() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(record, keyTTL: .milliseconds(2500)))
        #expect(hitRecord(cache.lookup(d, now: Self.at(2.4), wallNow: wall, waiter: 0)) != nil)
        #expect(isStartFetch(cache.lookup(d, now: Self.at(2.5), wallNow: wall, waiter: 0)))
    }

    @Test func wallClockExpiryWinsOverMonotonicDeadline() {
        // The wall clock was stepped forward: the monotonic deadline has not passed, the session has.
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(SessionRecord(userID: "u", tenantID: "t", expiresAt: wall + 20), keyTTL: nil))
        #expect(isStartFetch(cache.lookup(d, now: Self.at(1), wallNow: wall + 20, waiter: 0)))
    }

    @Test func expiredAtFetchIsCachedNegatively() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(SessionRecord(userID: "u", tenantID: "t", expiresAt: wall), keyTTL: nil))
        #expect(isNegative(cache.lookup(d, now: Self.at(1), wallNow: wall, waiter: 0)))
    }

    @Test func negativeEntriesExpireAfterNegativeTTL() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .notFound)
        #expect(isNegative(cache.lookup(d, now: Self.at(4.9), wallNow: wall, waiter: 0)))
        #expect(isStartFetch(cache.lookup(d, now: Self.at(5), wallNow: wall, waiter: 0)))
    }

    @Test func failuresAreNotCached() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        _ = cache.lookup(d, now: .zero, wallNow: wall, waiter: 1)
        _ = cache.lookup(d, now: .zero, wallNow: wall, waiter: 2)
        #expect(cache.complete(d, result: .failed, now: .zero, wallNow: wall) == [1, 2])
        #expect(cache.count == 0)
        #expect(isStartFetch(cache.lookup(d, now: .zero, wallNow: wall, waiter: 3)))
    }

    @Test func lruEvictsLeastRecentlyUsed() {
        var cache = Cache(capacity: 3, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let (a, b, c, d) = (Self.digest(1), Self.digest(2), Self.digest(3), Self.digest(4))
        fill(&cache, a, .found(record, keyTTL: nil))
        fill(&cache, b, .notFound)
        fill(&cache, c, .found(record, keyTTL: nil))
        #expect(cache.digestsByRecency == [c, b, a])
        #expect(hitRecord(cache.lookup(a, now: .zero, wallNow: wall, waiter: 0)) != nil)  // a is now most recent
        #expect(cache.digestsByRecency == [a, c, b])
        fill(&cache, d, .found(record, keyTTL: nil))  // evicts b
        #expect(cache.count == 3)
        #expect(cache.digestsByRecency == [d, a, c])
        #expect(isStartFetch(cache.lookup(b, now: .zero, wallNow: wall, waiter: 0)))
        _ = cache.complete(b, result: .notFound, now: .zero, wallNow: wall)  // evicts c
        #expect(cache.digestsByRecency == [b, d, a])
    }

    @Test func slotsAreReusedUnderChurn() {
        var cache = Cache(capacity: 50, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        for i in 0..<5000 {
            fill(&cache, Self.digest(i), i % 3 == 0 ? .notFound : .found(record, keyTTL: nil))
            if i % 7 == 0 { cache.evict(Self.digest(i - 3)) }
            #expect(cache.count <= 50)
        }
        let recency = cache.digestsByRecency
        #expect(recency.count == cache.count)
        #expect(Set(recency).count == recency.count)
        #expect(recency.first == Self.digest(4999))
    }

    @Test func evictRemovesEntry() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(record, keyTTL: nil))
        let first = cache.evict(d)
        let second = cache.evict(d)
        #expect(first && !second)
        #expect(cache.count == 0 && cache.digestsByRecency.isEmpty)
        #expect(isStartFetch(cache.lookup(d, now: .zero, wallNow: wall, waiter: 0)))
    }

    @Test func revocationDuringFetchIsNotUndone() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        _ = cache.lookup(d, now: .zero, wallNow: wall, waiter: 7)
        let marked = cache.evict(d)
        #expect(marked)
        #expect(cache.complete(d, result: .found(record, keyTTL: nil), now: .zero, wallNow: wall) == [7])
        #expect(cache.count == 0)
        #expect(isStartFetch(cache.lookup(d, now: .zero, wallNow: wall, waiter: 0)))
    }

    @Test func zeroCapacityStillSinglesFlight() {
        var cache = Cache(capacity: 0, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        #expect(isStartFetch(cache.lookup(d, now: .zero, wallNow: wall, waiter: 1)))
        #expect(isJoined(cache.lookup(d, now: .zero, wallNow: wall, waiter: 2)))
        #expect(cache.complete(d, result: .found(record, keyTTL: nil), now: .zero, wallNow: wall) == [1, 2])
        #expect(cache.count == 0)
    }

    @Test func removeAllEntriesKeepsPendingFetches() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        fill(&cache, Self.digest(1), .found(record, keyTTL: nil))
        _ = cache.lookup(Self.digest(2), now: .zero, wallNow: wall, waiter: 5)
        cache.removeAllEntries()
        #expect(cache.count == 0 && cache.pendingCount == 1)
        #expect(cache.complete(Self.digest(2), result: .notFound, now: .zero, wallNow: wall) == [5])
        #expect(cache.digestsByRecency == [Self.digest(2)])
    }

    /// A stream's re-check must reach Redis even while the token is cached (positively or
    /// negatively), join a fetch already in flight, and leave its answer in the cache.
    @Test func refreshNeverAnswersFromTheCache() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        fill(&cache, d, .found(record, keyTTL: nil))
        #expect(hitRecord(cache.lookup(d, now: Self.at(1), wallNow: wall, waiter: 0)) == record)
        #expect(isStartFetch(cache.refresh(d, waiter: 1)))
        #expect(isJoined(cache.refresh(d, waiter: 2)), "two re-checks, one fetch")
        #expect(hitRecord(cache.lookup(d, now: Self.at(1), wallNow: wall, waiter: 3)) == record,
                "requests keep the cached entry while the re-check runs")
        #expect(cache.complete(d, result: .notFound, now: Self.at(1), wallNow: wall) == [1, 2])
        #expect(isNegative(cache.lookup(d, now: Self.at(2), wallNow: wall, waiter: 0)), "the answer replaced the entry")
        // A negative entry does not answer a refresh either; the record found replaces it.
        #expect(isStartFetch(cache.refresh(d, waiter: 4)))
        let renewed = SessionRecord(userID: "u2", tenantID: "t", expiresAt: wall + 600)
        #expect(cache.complete(d, result: .found(renewed, keyTTL: nil), now: Self.at(2), wallNow: wall) == [4])
        #expect(hitRecord(cache.lookup(d, now: Self.at(3), wallNow: wall, waiter: 0)) == renewed)
    }

    @Test func refreshJoinsALookupInFlight() {
        var cache = Cache(capacity: 10, cacheTTL: .seconds(30), negativeTTL: .seconds(5))
        let d = Self.digest(1)
        #expect(isStartFetch(cache.lookup(d, now: .zero, wallNow: wall, waiter: 1)))
        #expect(isJoined(cache.refresh(d, waiter: 2)))
        #expect(cache.complete(d, result: .failed, now: .zero, wallNow: wall) == [1, 2])
        #expect(cache.pendingCount == 0 && cache.count == 0)
    }
}
