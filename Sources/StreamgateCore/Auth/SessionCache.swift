/// A per-event-loop cache of session lookups, keyed by token digest, with single-flight
/// fetching: however many requests arrive with one uncached token, Redis is asked once.
///
/// **Not thread-safe, by design.** Each event loop owns one (DESIGN.md: no locks on the
/// per-event path); revocations are broadcast to every loop, which calls `evict` on its own.
/// The type is deliberately not `Sendable`.
///
/// - Positive entries live until `min(now + cacheTTL, session expiry, Redis key TTL)`: a
///   cached session is never served past its own expiry (REFERENCES.md, "Failure modes").
/// - Negative entries (no such session, or an invalid/expired record) live `negativeTTL`,
///   so a flood of bad tokens costs one lookup per token per `negativeTTL`.
/// - Both kinds share one LRU bound of `capacity` entries. In-flight fetches do not count
///   against it; they are bounded by the requests that wait on them.
///
/// Storage is a dictionary from digest to a slot in an array of nodes that form an
/// intrusive doubly-linked LRU list (indices, not references), with freed slots reused:
/// every operation is O(1) and allocates nothing beyond the dictionary's own storage
/// (and the waiter list of a new fetch).
public struct SessionCache<Waiter> {
    /// The answer to `lookup`.
    public enum Lookup: Sendable {
        /// A live cached session. Policy checks (expiry included) still apply.
        case hit(SessionRecord)
        /// The token was recently found not to name a valid session: answer 401.
        case negativeHit
        /// Nothing cached and nothing in flight: the caller must issue exactly one Redis
        /// lookup and then call `complete`. The waiter was queued too.
        case startFetch
        /// A lookup for this digest is already in flight; the waiter was queued and will be
        /// returned by `complete`.
        case joinedPending
    }

    /// What the Redis lookup produced.
    public enum FetchResult: Sendable {
        /// A valid record, and the key's remaining TTL when it has one (PTTL).
        case found(SessionRecord, keyTTL: Duration?)
        /// No such key, or a record that failed validation: cached negatively.
        case notFound
        /// The store failed (timeout, connection, error reply): nothing is cached, and the
        /// waiters should be answered 503 with `Retry-After`.
        case failed
    }

    private struct Pending {
        var waiters: [Waiter]
        /// Revoked while the fetch was in flight: the fetched record may predate the
        /// revocation, so it is not cached.
        var revoked = false
    }

    public let capacity: Int
    public let cacheTTL: Duration
    public let negativeTTL: Duration

    /// The cached entries, in a type that is not generic: code outside this module uses the
    /// cache unspecialised, and generic array and dictionary code on the hit path cost
    /// thousands of instructions per request.
    private var entries: SessionLRU
    private var pending: [TokenDigest: Pending] = [:]

    public init(capacity: Int, cacheTTL: Duration, negativeTTL: Duration) {
        precondition(capacity >= 0, "capacity must not be negative")
        self.capacity = capacity
        self.cacheTTL = cacheTTL
        self.negativeTTL = negativeTTL
        entries = SessionLRU(capacity: capacity)
    }

    /// Cached entries (positive and negative), excluding in-flight fetches.
    public var count: Int { entries.count }

    /// Digests with a fetch in flight.
    public var pendingCount: Int { pending.count }

    /// Looks `digest` up; on a miss, registers `waiter` (see `Lookup`). On a hit the waiter
    /// is not kept.
    ///
    /// - Parameters:
    ///   - now: monotonic time, for the cache's own TTLs.
    ///   - wallNow: unix seconds, for the session's `expiresAt` (a cached record that has
    ///     expired by the wall clock is dropped even if its monotonic deadline has not
    ///     passed, e.g. after the wall clock was stepped forward).
    public mutating func lookup(_ digest: TokenDigest, now: NanoTime, wallNow: Int64, waiter: Waiter) -> Lookup {
        if let answer = cached(digest, now: now, wallNow: wallNow) { return answer }
        if pending[digest] != nil {
            pending[digest]!.waiters.append(waiter)
            return .joinedPending
        }
        pending[digest] = Pending(waiters: [waiter])
        return .startFetch
    }

    /// The cached answer for `digest` (`.hit` or `.negativeHit`), or nil when the store must be
    /// asked. Lets a caller answer a hit in line, before it sets up the asynchronous path
    /// (pausing reads, a completion closure) that only a miss needs. Drops an entry it finds
    /// stale, as `lookup` would.
    public mutating func cached(_ digest: TokenDigest, now: NanoTime, wallNow: Int64) -> Lookup? {
        switch entries.find(digest, now: now, wallNow: wallNow) {
        case .hit(let record): .hit(record)
        case .negative: .negativeHit
        case .absent: nil
        }
    }

    /// Like `lookup`, but never answered from the cache: a re-validation must see the store.
    /// Joins the fetch in flight for `digest` if there is one (single flight, as for any
    /// lookup), else registers `waiter` and returns `.startFetch`. Whatever `complete` then
    /// gets replaces the cached entry, so other requests see the fresh answer too.
    public mutating func refresh(_ digest: TokenDigest, waiter: Waiter) -> Lookup {
        if pending[digest] != nil {
            pending[digest]!.waiters.append(waiter)
            return .joinedPending
        }
        pending[digest] = Pending(waiters: [waiter])
        return .startFetch
    }

    /// Records the result of the fetch started for `digest` and returns every waiter queued
    /// for it (the one that started the fetch first), in arrival order. Call exactly once
    /// per `.startFetch`; a call with no fetch in flight returns no waiters and caches nothing.
    public mutating func complete(_ digest: TokenDigest, result: FetchResult, now: NanoTime, wallNow: Int64) -> [Waiter] {
        guard let done = pending.removeValue(forKey: digest) else { return [] }
        if !done.revoked {
            switch result {
            case .found(let record, let keyTTL):
                var ttl = cacheTTL
                if let keyTTL { ttl = Swift.min(ttl, keyTTL) }
                if let expiresAt = record.expiresAt {
                    let (remaining, overflow) = expiresAt.subtractingReportingOverflow(wallNow)
                    if !overflow { ttl = Swift.min(ttl, .seconds(remaining)) }
                }
                if record.isExpired(wallNow: wallNow) {
                    entries.insert(digest, record: nil, ttl: negativeTTL, now: now)
                } else {
                    entries.insert(digest, record: record, ttl: ttl, now: now)
                }
            case .notFound:
                entries.insert(digest, record: nil, ttl: negativeTTL, now: now)
            case .failed:
                break
            }
        }
        return done.waiters
    }

    /// Forgets `digest` at once (revocation). A fetch in flight for it still completes and
    /// wakes its waiters, but its result is not cached. True if anything was dropped or marked.
    @discardableResult
    public mutating func evict(_ digest: TokenDigest) -> Bool {
        var found = entries.evict(digest)
        if pending[digest] != nil {
            pending[digest]!.revoked = true
            found = true
        }
        return found
    }

    /// Drops every cached entry (in-flight fetches are kept, but their results will be cached).
    public mutating func removeAllEntries() { entries.removeAll() }

    /// Digests from most to least recently used (for tests and debugging; O(n)).
    public var digestsByRecency: [TokenDigest] { entries.digestsByRecency }
}

/// The LRU/TTL entries of a `SessionCache`: a dictionary from digest to a slot in an array of
/// nodes that form an intrusive doubly-linked list (indices, not references), freed slots
/// reused.
struct SessionLRU {
    private struct Node {
        var digest: TokenDigest
        /// Nil for a negative entry.
        var record: SessionRecord?
        var deadline: NanoTime
        var prev: Int
        var next: Int
    }

    enum Found {
        case hit(SessionRecord)
        case negative
        case absent
    }

    let capacity: Int
    private var nodes: [Node] = []
    private var slots: [TokenDigest: Int] = [:]
    /// Most recently used.
    private var head = -1
    /// Least recently used: evicted first.
    private var tail = -1
    /// Freed slots, linked through `next`.
    private var freeHead = -1

    init(capacity: Int) {
        self.capacity = capacity
        slots.reserveCapacity(Swift.min(capacity, 1 << 16))
    }

    var count: Int { slots.count }

    /// A live entry is moved to the front; a stale one is dropped.
    mutating func find(_ digest: TokenDigest, now: NanoTime, wallNow: Int64) -> Found {
        guard let slot = slots[digest] else { return .absent }
        if nodes[slot].deadline > now && !(nodes[slot].record?.isExpired(wallNow: wallNow) ?? false) {
            moveToFront(slot)
            if let record = nodes[slot].record { return .hit(record) }
            return .negative
        }
        remove(slot)
        return .absent
    }

    mutating func evict(_ digest: TokenDigest) -> Bool {
        guard let slot = slots[digest] else { return false }
        remove(slot)
        return true
    }

    mutating func removeAll() {
        nodes.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        head = -1
        tail = -1
        freeHead = -1
    }

    var digestsByRecency: [TokenDigest] {
        var out: [TokenDigest] = []
        var i = head
        while i >= 0 {
            out.append(nodes[i].digest)
            i = nodes[i].next
        }
        return out
    }

    mutating func insert(_ digest: TokenDigest, record: SessionRecord?, ttl: Duration, now: NanoTime) {
        guard capacity > 0, ttl > .zero else { return }
        let deadline = now + ttl
        if let slot = slots[digest] {
            nodes[slot].record = record
            nodes[slot].deadline = deadline
            moveToFront(slot)
            return
        }
        if slots.count >= capacity { remove(tail) }
        let node = Node(digest: digest, record: record, deadline: deadline, prev: -1, next: head)
        let slot: Int
        if freeHead >= 0 {
            slot = freeHead
            freeHead = nodes[slot].next
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        if head >= 0 { nodes[head].prev = slot }
        head = slot
        if tail < 0 { tail = slot }
        slots[digest] = slot
    }

    private mutating func unlink(_ slot: Int) {
        let prev = nodes[slot].prev
        let next = nodes[slot].next
        if prev >= 0 { nodes[prev].next = next } else { head = next }
        if next >= 0 { nodes[next].prev = prev } else { tail = prev }
        nodes[slot].prev = -1
        nodes[slot].next = -1
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        nodes[slot].next = head
        if head >= 0 { nodes[head].prev = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private mutating func remove(_ slot: Int) {
        unlink(slot)
        slots.removeValue(forKey: nodes[slot].digest)
        nodes[slot].record = nil  // release the strings now, not when the slot is reused
        nodes[slot].next = freeHead
        freeHead = slot
    }
}
