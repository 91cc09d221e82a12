import StreamgateCore
import StreamgateIO

/// What a token resolved to.
enum SessionLookupOutcome {
    case found(SessionRecord)
    case notFound
    /// The store could not answer in time: fail closed with 503 for uncached tokens.
    case unavailable
}

/// A worker's view of the Redis session store: an LRU/TTL cache in front of one hiredis client,
/// one Redis lookup per uncached digest however many requests wait on it, and the revocation
/// subscription that ends live streams. Loop-confined, like everything a worker owns.
final class SessionStore {
    typealias Waiter = (SessionLookupOutcome) -> Void

    let runtime: AuthRuntime
    let redis: RedisClient
    private var cache: SessionCache<Waiter>
    private var liveStreams: [TokenDigest: [ObjectIdentifier: WeakStream]] = [:]
    private let onError: (String) -> Void
    /// The worker's store counters, shared with the stores before and after this one.
    let metrics: SessionStoreMetrics
    /// What the Redis client's own counters stood at when last folded into `metrics`.
    private var reportedReconnects: UInt64 = 0
    private var reportedProtocolErrors: UInt64 = 0
    /// The revocation subscription has been confirmed at least once.
    private var subscribedBefore = false

    struct WeakStream { weak var relay: StreamRelay? }

    init(loop: EventLoop, runtime: AuthRuntime, metrics: SessionStoreMetrics, onError: @escaping (String) -> Void) {
        self.runtime = runtime
        self.onError = onError
        self.metrics = metrics
        redis = RedisClient(loop: loop, config: runtime.redis)
        cache = SessionCache(capacity: runtime.cacheSize, cacheTTL: runtime.cacheTTL, negativeTTL: runtime.negativeTTL)
        redis.start()
        redis.subscribe(channel: runtime.revocationChannel, onConfirmed: { [weak self] in
            self?.revocationSubscriptionConfirmed()
        }, onMessage: { [weak self] message in
            self?.revocationMessage(message)
        })
        metrics.track(self)
    }

    deinit {
        reportRedisCounters()
        redis.close()
    }

    /// Adds what the Redis client counted since the last report to the worker's totals.
    func reportRedisCounters() {
        let reconnects = redis.reconnects, protocolErrors = redis.protocolErrors
        metrics.counts.reconnects &+= reconnects &- reportedReconnects
        metrics.counts.protocolErrors &+= protocolErrors &- reportedProtocolErrors
        reportedReconnects = reconnects
        reportedProtocolErrors = protocolErrors
    }

    var cacheEntries: Int { cache.count }

    static func digest(of token: String) -> TokenDigest {
        Crypto.sha256Digest(token)
    }

    /// The cache's answer for a digest, nil on a miss (then `lookup`). Counted as a hit.
    func cachedAnswer(digest: TokenDigest) -> SessionLookupOutcome? {
        switch cache.cached(digest, now: EventLoop.now(), wallNow: EventLoop.wallSeconds()) {
        case .hit(let record)?:
            metrics.counts.cacheHits &+= 1
            return .found(record)
        case .negativeHit?:
            metrics.counts.cacheHits &+= 1
            return .notFound
        default:
            return nil
        }
    }

    /// Resolves a token. Cached answers complete synchronously; otherwise one Redis lookup
    /// serves every concurrent request for the same digest.
    func lookup(token: String, digest: TokenDigest, completion: @escaping Waiter) {
        switch cache.lookup(digest, now: EventLoop.now(), wallNow: EventLoop.wallSeconds(), waiter: completion) {
        case .hit(let record):
            metrics.counts.cacheHits &+= 1
            completion(.found(record))
        case .negativeHit:
            metrics.counts.cacheHits &+= 1
            completion(.notFound)
        case .startFetch:
            metrics.counts.cacheMisses &+= 1
            fetch(token: token, digest: digest)
        case .joinedPending:
            metrics.counts.cacheMisses &+= 1
        }
    }

    /// Re-validates a live stream's session: always answered by Redis, never by the cache, so
    /// a deleted or changed session shows within `recheck_interval` whatever `cache_ttl` is.
    /// Single-flighted with any lookup already in flight for the digest; the answer refreshes
    /// the cache for every other request too.
    func revalidate(token: String, digest: TokenDigest, completion: @escaping Waiter) {
        switch cache.refresh(digest, waiter: completion) {
        case .startFetch:
            fetch(token: token, digest: digest)
        case .joinedPending:
            break
        case .hit(let record):  // not returned by `refresh`; answered as a lookup would be
            completion(.found(record))
        case .negativeHit:
            completion(.notFound)
        }
    }

    private func fetch(token: String, digest: TokenDigest) {
        metrics.counts.lookups &+= 1
        let key = runtime.keyTemplate.render(token: token, digest: digest)
        var record: RedisResult?
        var ttl: RedisResult?
        let started = EventLoop.now()
        let finish = { [weak self] in
            guard let self, let record, let ttl else { return }
            self.metrics.counts.lookupDuration.observe(from: started, to: EventLoop.now(), buckets: .connect)
            self.completeFetch(digest: digest, record: record, ttl: ttl)
        }
        let read = runtime.format == .hash ? "HGETALL" : "GET"
        redis.command([read, key]) { r in record = r; finish() }
        redis.command(["PTTL", key]) { r in ttl = r; finish() }
    }

    private func completeFetch(digest: TokenDigest, record: RedisResult, ttl: RedisResult) {
        let wallNow = EventLoop.wallSeconds()
        let result: SessionCache<Waiter>.FetchResult
        switch (record, ttl) {
        case (.failure(let e), _), (_, .failure(let e)):
            onError("session store lookup failed: \(e)")
            result = .failed
        case (.success(let reply), .success(let ttlReply)):
            result = decode(reply, ttl: ttlReply, wallNow: wallNow, digest: digest)
        }
        let waiters = cache.complete(digest, result: result, now: EventLoop.now(), wallNow: wallNow)
        let outcome: SessionLookupOutcome
        switch result {
        case .found(let r, _): outcome = .found(r)
        case .notFound: outcome = .notFound
        case .failed:
            metrics.counts.lookupErrors &+= 1
            outcome = .unavailable
        }
        for w in waiters { w(outcome) }
    }

    private func decode(_ reply: RedisReply, ttl: RedisReply, wallNow: Int64, digest: TokenDigest) -> SessionCache<Waiter>.FetchResult {
        var keyTTL: Duration?
        if case .integer(let ms) = ttl, ms > 0 { keyTTL = .milliseconds(ms) }
        do {
            var record: SessionRecord
            switch reply {
            case .array(let items):
                if items.isEmpty { return .notFound }
                let flat = items.map { item -> [UInt8] in
                    if case .string(let b) = item { return b }
                    return []
                }
                record = try SessionRecord.decode(flatHashBytes: flat, mapping: runtime.fields)
            case .string(let bytes):
                record = try SessionRecord.decode(json: bytes, mapping: runtime.fields)
            case .null:
                return .notFound
            case .error(let message):
                onError("session store error reply: \(message.prefix(200))")
                return .failed
            default:
                return .notFound
            }
            // The key's own TTL bounds the session as much as its recorded expiry.
            if let keyTTL {
                // Rounded down: a session never outlives its key (under a second left = expired).
                let keyExpiry = wallNow + keyTTL.milliseconds / 1000
                record.expiresAt = min(record.expiresAt ?? keyExpiry, keyExpiry)
            }
            return .found(record, keyTTL: keyTTL)
        } catch {
            // Refused like any invalid record (401, cached negatively), but worth a line: no
            // real session is that big. The digest prefix names it, never the token.
            if case .tooLarge = error { onError("session store: \(error) (digest \(digest.hex.prefix(8))...)") }
            return .notFound
        }
    }

    // MARK: - Live streams and revocation

    func register(stream: StreamRelay, digest: TokenDigest) {
        liveStreams[digest, default: [:]][ObjectIdentifier(stream)] = WeakStream(relay: stream)
    }

    func unregister(stream: StreamRelay, digest: TokenDigest) {
        liveStreams[digest]?[ObjectIdentifier(stream)] = nil
        if liveStreams[digest]?.isEmpty == true { liveStreams[digest] = nil }
    }

    /// Revocations published while the subscription was down were lost, so anything cached
    /// may have been revoked since: after a reconnect every token is read from Redis again.
    /// (During the outage cached sessions keep working, as documented.) Live streams learn
    /// of a deletion at their next re-check.
    private func revocationSubscriptionConfirmed() {
        if subscribedBefore { cache.removeAllEntries() }
        subscribedBefore = true
    }

    /// A published digest: forget the cached session and end every stream opened with it.
    private func revocationMessage(_ message: [UInt8]) {
        guard let digest = RevocationMessage.digest(message) else {
            metrics.counts.malformedRevocations &+= 1
            let malformed = metrics.counts.malformedRevocations
            // Never the payload: it may be a raw token published by mistake. One line per
            // burst, not per message.
            if malformed == 1 || malformed % 1000 == 0 {
                onError("revocation message ignored: not a hex SHA-256 digest (\(message.count) bytes; \(malformed) so far)")
            }
            return
        }
        revoke(digest)
    }

    func revoke(_ digest: TokenDigest) {
        metrics.counts.revocations &+= 1
        _ = cache.evict(digest)
        guard let streams = liveStreams.removeValue(forKey: digest) else { return }
        for s in streams.values { s.relay?.requestEnd(.revoked) }
    }
}
