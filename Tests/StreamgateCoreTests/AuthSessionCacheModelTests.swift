import Testing
@testable import StreamgateCore

/// Drives `SessionCache` with a long random sequence of operations and checks every answer
/// against a deliberately naive model (an array in recency order).
@Suite("AuthSessionCacheModel")
struct AuthSessionCacheModelTests {
    struct Model {
        struct Entry { var key: Int; var positive: Bool; var deadline: UInt64 }
        var entries: [Entry] = []  // most recent first
        var pending: [Int: (waiters: [Int], revoked: Bool)] = [:]
        let capacity: Int
        let ttl: UInt64
        let negativeTTL: UInt64

        enum Answer: Equatable { case hit, negative, start, joined }

        mutating func lookup(_ key: Int, now: UInt64, waiter: Int) -> Answer {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                let e = entries.remove(at: i)
                if e.deadline > now {
                    entries.insert(e, at: 0)
                    return e.positive ? .hit : .negative
                }
            }
            if pending[key] != nil {
                pending[key]!.waiters.append(waiter)
                return .joined
            }
            pending[key] = ([waiter], false)
            return .start
        }

        mutating func complete(_ key: Int, positive: Bool?, keyTTL: UInt64?, now: UInt64) -> [Int] {
            guard let p = pending.removeValue(forKey: key) else { return [] }
            guard !p.revoked, let positive, capacity > 0 else { return p.waiters }
            let life = positive ? min(ttl, keyTTL ?? .max) : negativeTTL
            guard life > 0 else { return p.waiters }
            entries.removeAll { $0.key == key }
            if entries.count >= capacity { entries.removeLast() }
            entries.insert(Entry(key: key, positive: positive, deadline: now + life), at: 0)
            return p.waiters
        }

        mutating func evict(_ key: Int) -> Bool {
            var found = false
            if let i = entries.firstIndex(where: { $0.key == key }) { entries.remove(at: i); found = true }
            if pending[key] != nil { pending[key]!.revoked = true; found = true }
            return found
        }
    }

    static func digest(_ n: Int) -> TokenDigest {
        var bytes = [UInt8](repeating: 0xAB, count: 32)
        bytes[5] = UInt8(n)
        return TokenDigest(bytes: bytes)!
    }

    @Test(arguments: [(capacity: 8, seed: UInt64(1)), (capacity: 1, seed: 2), (capacity: 0, seed: 3), (capacity: 40, seed: 4)])
    func matchesModel(capacity: Int, seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        let ttl: UInt64 = 30_000_000_000, negativeTTL: UInt64 = 5_000_000_000
        var cache = SessionCache<Int>(capacity: capacity, cacheTTL: .nanoseconds(Int64(ttl)), negativeTTL: .nanoseconds(Int64(negativeTTL)))
        var model = Model(capacity: capacity, ttl: ttl, negativeTTL: negativeTTL)
        let record = SessionRecord(userID: "u", tenantID: "t")
        var now: UInt64 = 0
        var waiter = 0

        for step in 0..<20_000 {
            now += UInt64.random(in: 0...400_000_000, using: &rng)
            let key = Int.random(in: 0..<30, using: &rng)
            let d = Self.digest(key)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                waiter += 1
                let expected = model.lookup(key, now: now, waiter: waiter)
                let got: Model.Answer
                switch cache.lookup(d, now: NanoTime(nanoseconds: now), wallNow: 0, waiter: waiter) {
                case .hit(let r): got = .hit; #expect(r == record)
                case .negativeHit: got = .negative
                case .startFetch: got = .start
                case .joinedPending: got = .joined
                }
                #expect(got == expected, "step \(step) lookup \(key)")
            case 5..<9:
                let kind = Int.random(in: 0..<4, using: &rng)
                let keyTTL: UInt64? = kind == 3 ? UInt64.random(in: 0...40_000_000_000, using: &rng) : nil
                let result: SessionCache<Int>.FetchResult = switch kind {
                case 0: .notFound
                case 1: .failed
                default: .found(record, keyTTL: keyTTL.map { .nanoseconds(Int64($0)) })
                }
                let positive: Bool? = kind == 0 ? false : kind == 1 ? nil : true
                let expected = model.complete(key, positive: positive, keyTTL: keyTTL, now: now)
                #expect(cache.complete(d, result: result, now: NanoTime(nanoseconds: now), wallNow: 0) == expected, "step \(step)")
            default:
                let expected = model.evict(key)
                let got = cache.evict(d)
                #expect(got == expected, "step \(step) evict")
            }
            #expect(cache.count == model.entries.count)
            #expect(cache.pendingCount == model.pending.count)
        }
        #expect(cache.digestsByRecency == model.entries.map { Self.digest($0.key) })
    }
}
