import StreamgateCore
import StreamgateIO

/// Fleet-wide concurrent-stream limits per user and per tenant (`[limits] shared = true`),
/// counted in Redis with leases that expire, so an instance that dies holding slots gives them
/// back within `lease_ttl` without anyone cleaning up after it.
///
/// One sorted set per limit key (`streamgate:limit:user:<tenant>:<user>`,
/// `streamgate:limit:tenant:<tenant>`, `%` and `:` in ids percent-encoded); a stream is one
/// member, `<instance>:<n>`, in each key that limits it, scored by its lease's expiry in
/// milliseconds of Redis' own clock (`TIME` inside the scripts), so the instances' clocks never
/// need to agree.
/// - Admission is one Lua script, atomic across the stream's keys: drop expired members, refuse
///   if any key is at its limit, else add the member to every key.
/// - Every `lease_ttl`/3 each worker writes its live leases again, a batch of keys per script
///   call. The write is an upsert (ZADD, not ZADD XX): a lease lost to a Redis restart or to an
///   outage longer than `lease_ttl` is counted again at the next renewal, rather than leaving
///   the fleet believing the slot free for as long as the stream lives.
/// - A stream that ends removes its member (ZREM); if that fails, the lease runs out by itself.
///
/// **When Redis cannot answer** (down, slower than `[redis] timeout`, a script error) a stream
/// is admitted on this instance's own count, which `StreamLimiter` has already checked against
/// the same limits: the limit then holds per instance, as with `shared = false`. Failing closed
/// would turn a Redis outage into an outage of every limited route even for sessions the cache
/// still authenticates; failing open would admit without any bound. The lease stays live, so
/// the first renewal after Redis returns counts the stream fleet-wide.
///
/// Loop-confined, one per worker and configuration (a reload that keeps the session store and
/// `lease_ttl` keeps it). Each live lease holds it, and it holds the store, so renewals go on
/// through the Redis client they started with until the last of its streams ends.
final class StreamLeases {
    /// One limit a stream needs a slot under.
    struct Wanted: Equatable {
        var key: String
        var limit: Int
        var which: StreamLimiter.Exceeded
    }

    enum Outcome {
        /// The stream holds a slot: fleet-wide, or on this instance's count when Redis could not answer.
        case admitted(Lease)
        case refused(StreamLimiter.ExceededLimit)
    }

    /// A stream's member in its limit keys; `release()` when the stream ends (repeats are ignored).
    final class Lease {
        let member: String
        let keys: [String]
        fileprivate let owner: StreamLeases

        fileprivate init(member: String, keys: [String], owner: StreamLeases) {
            self.member = member; self.keys = keys; self.owner = owner
        }

        func release() { owner.release(self) }
    }

    static let keyPrefix = "streamgate:limit:"
    /// Keys and members per renewal call: one call stays short for Redis (scripts block it).
    static let renewalBatchKeys = 100
    static let renewalBatchMembers = 1000

    let ttl: Duration
    /// Holds the Redis client open while leases live (a replaced store closes its client when freed).
    let store: SessionStore
    private var redis: RedisClient { store.redis }
    private let instance: String
    private var nextNumber: UInt64 = 0
    private var live: [String: Lease] = [:]
    private var renewTimer: LoopTimer!
    private var renewalRetried = false
    private let onError: (String) -> Void
    /// Streams admitted on the local count because Redis could not answer.
    private(set) var admittedUnverified: UInt64 = 0
    private(set) var renewalFailures: UInt64 = 0
    /// Releases (ZREM) sent and not yet answered: a draining worker waits for them.
    private(set) var releasesInFlight = 0

    init(loop: EventLoop, store: SessionStore, ttl: Duration, onError: @escaping (String) -> Void) {
        self.store = store
        self.ttl = ttl
        self.onError = onError
        instance = Hex.lowercase(Crypto.randomBytes(6))
        renewTimer = LoopTimer(loop: loop) { [weak self] in self?.renewalDue() }
    }

    var liveCount: Int { live.count }
    private var ttlMilliseconds: String { String(ttl.milliseconds) }

    /// The fleet-wide limits `limits` puts on a stream of `user` in `tenant` (the route's own
    /// `max_streams` stays per instance).
    static func wanted(user: String?, tenant: String?, limits: StreamLimits) -> [Wanted] {
        var out: [Wanted] = []
        if limits.perUser > 0, let user {
            out.append(Wanted(key: keyPrefix + "user:" + keyPart(tenant ?? "") + ":" + keyPart(user), limit: limits.perUser, which: .user))
        }
        if limits.perTenant > 0, let tenant {
            out.append(Wanted(key: keyPrefix + "tenant:" + keyPart(tenant), limit: limits.perTenant, which: .tenant))
        }
        return out
    }

    /// An id as one key segment: `%` and `:` percent-encoded, so tenant `a:b` with user `c`
    /// and tenant `a` with user `b:c` get different keys.
    static func keyPart(_ id: String) -> String {
        guard id.utf8.contains(where: { $0 == 0x25 || $0 == 0x3A }) else { return id }
        var out = ""
        for ch in id.unicodeScalars {
            switch ch {
            case "%": out += "%25"
            case ":": out += "%3A"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Asks Redis for a slot under every `wanted` limit. `completion` runs exactly once, on
    /// the loop, never inside this call; an admitted lease must be released by the caller,
    /// also when it no longer wants it.
    func acquire(_ wanted: [Wanted], completion: @escaping (Outcome) -> Void) {
        nextNumber += 1
        let lease = Lease(member: "\(instance):\(nextNumber)", keys: wanted.map(\.key), owner: self)
        let args = [ttlMilliseconds, lease.member] + wanted.map { String($0.limit) }
        run(Self.acquireScript, keys: lease.keys, args: args) { [self] result in
            switch result {
            case .success(.integer(0)):
                break
            case .success(.integer(let i)) where i >= 1 && i <= wanted.count:
                let w = wanted[Int(i) - 1]
                completion(.refused(StreamLimiter.ExceededLimit(which: w.which, limit: w.limit)))
                return
            default:
                admittedUnverified += 1
                if admittedUnverified == 1 || admittedUnverified % 1000 == 0 {
                    onError("shared stream limits: Redis could not count a stream (\(Self.describe(result))); admitted on this instance's own count (\(admittedUnverified) so far)")
                }
            }
            live[lease.member] = lease
            if !renewTimer.isArmed { renewTimer.schedule(after: ttl / 3) }
            completion(.admitted(lease))
        }
    }

    fileprivate func release(_ lease: Lease) {
        guard live.removeValue(forKey: lease.member) != nil else { return }
        for key in lease.keys {
            releasesInFlight += 1
            redis.command(["ZREM", key, lease.member]) { [self] _ in releasesInFlight -= 1 }
        }
        if live.isEmpty { renewTimer.cancel() }
    }

    // MARK: - Renewal

    private func renewalDue() {
        renewalRetried = false
        renew(sendingScript: false)
        if !live.isEmpty { renewTimer.schedule(after: ttl / 3) }
    }

    /// Writes every live lease again, in batches.
    private func renew(sendingScript: Bool) {
        var members: [String: [String]] = [:]
        for lease in live.values { for key in lease.keys { members[key, default: []].append(lease.member) } }
        var keys: [String] = [], args: [String] = [], count = 0
        func send() {
            guard !keys.isEmpty else { return }
            let call = sendingScript ? ["EVAL", Self.renewScript.source] : ["EVALSHA", Self.renewScript.sha]
            redis.command(call + [String(keys.count)] + keys + [ttlMilliseconds] + args) { [weak self] in self?.renewed($0) }
            keys = []; args = []; count = 0
        }
        for (key, list) in members {
            keys.append(key)
            args.append(String(list.count))
            args += list
            count += list.count
            if keys.count >= Self.renewalBatchKeys || count >= Self.renewalBatchMembers { send() }
        }
        send()
    }

    private func renewed(_ result: RedisResult) {
        if case .success(.integer) = result { return }
        if case .success(.error(let message)) = result, message.hasPrefix("NOSCRIPT") {
            // Redis lost its script cache (a restart, which lost the leases too): renew at once
            // with the script's text, from the leases live now rather than the failed batch,
            // which may name streams that ended (and were removed) since it was sent.
            if !renewalRetried {
                renewalRetried = true
                renew(sendingScript: true)
            }
            return
        }
        renewalFailures += 1
        if renewalFailures == 1 || renewalFailures % 100 == 0 {
            onError("shared stream limits: lease renewal failed (\(Self.describe(result))); \(live.count) leases wait for the next one (\(renewalFailures) failures so far)")
        }
    }

    // MARK: - Scripts

    struct Script {
        let source: String
        /// What EVALSHA names it by.
        let sha: String
        init(_ source: String) {
            self.source = source
            sha = Hex.lowercase(Crypto.sha1(source))
        }
    }

    /// Runs a script by its SHA-1, loading it (EVAL) when Redis does not know it.
    private func run(_ script: Script, keys: [String], args: [String], completion: @escaping (RedisResult) -> Void) {
        let tail = [String(keys.count)] + keys + args
        redis.command(["EVALSHA", script.sha] + tail) { [weak self] result in
            if case .success(.error(let message)) = result, message.hasPrefix("NOSCRIPT"), let self {
                self.redis.command(["EVAL", script.source] + tail, completion: completion)
            } else {
                completion(result)
            }
        }
    }

    private static func describe(_ result: RedisResult) -> String {
        switch result {
        case .success(.error(let message)): "error reply: \(message.prefix(200))"
        case .success(let reply): "unexpected reply \(String(describing: reply).prefix(100))"
        case .failure(let error): "\(error)"
        }
    }

    /// KEYS: the stream's limit keys. ARGV: lease ttl (ms), the stream's member, then each
    /// key's limit. 0 = admitted under every key; i = KEYS[i] is at its limit (nothing added).
    static let acquireScript = Script("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        for i, key in ipairs(KEYS) do
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then return i end
        end
        for _, key in ipairs(KEYS) do
          redis.call('ZADD', key, now + ttl, ARGV[2])
          if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
        end
        return 0
        """)

    /// KEYS: limit keys. ARGV: lease ttl (ms), then per key a member count and the members.
    /// Upserts each member's expiry, drops expired ones, keeps the key as long as its last lease.
    static let renewScript = Script("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[1])
        local a = 2
        for _, key in ipairs(KEYS) do
          local n = tonumber(ARGV[a])
          a = a + 1
          for _ = 1, n do
            redis.call('ZADD', key, now + ttl, ARGV[a])
            a = a + 1
          end
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
        end
        return #KEYS
        """)
}
