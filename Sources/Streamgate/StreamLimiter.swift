import StreamgateCore
import Synchronization

/// Concurrent streams per route, user and tenant in this gateway instance, shared by every
/// worker. Touched when a stream starts and when it ends, never per event, so one lock costs
/// nothing the relay would notice. Outlives reloads: the count of streams already open is a
/// fact, whatever the new limits say. With `shared = true` it is still the first check (this
/// instance's streams are a lower bound of the fleet's) and the whole one while Redis cannot
/// answer (`StreamLeases`).
final class StreamLimiter: Sendable {
    enum Key: Hashable, Sendable {
        /// A user within their tenant: user ids need only be unique per tenant, and one
        /// tenant's users must not use up another's.
        case route(String), user(tenant: String?, user: String), tenant(String)
    }

    /// Which limit refused a stream, for the 429, the access log and the metrics.
    enum Exceeded: String, Sendable {
        case route, user, tenant
    }

    private let counts = Mutex<[Key: Int]>([:])

    /// Takes a slot under every applicable limit, or none: the first limit already reached.
    func acquire(route: String, user: String?, tenant: String?, limits: StreamLimits) -> Result<[Key], ExceededLimit> {
        var wanted: [(Key, Int, Exceeded)] = []
        if limits.perRoute > 0 { wanted.append((.route(route), limits.perRoute, .route)) }
        if limits.perUser > 0, let user { wanted.append((.user(tenant: tenant, user: user), limits.perUser, .user)) }
        if limits.perTenant > 0, let tenant { wanted.append((.tenant(tenant), limits.perTenant, .tenant)) }
        return counts.withLock { counts in
            for (key, limit, which) in wanted where counts[key, default: 0] >= limit {
                return .failure(ExceededLimit(which: which, limit: limit))
            }
            for (key, _, _) in wanted { counts[key, default: 0] += 1 }
            return .success(wanted.map(\.0))
        }
    }

    func release(_ keys: [Key]) {
        guard !keys.isEmpty else { return }
        counts.withLock { counts in
            for key in keys {
                let n = counts[key, default: 0] - 1
                counts[key] = n > 0 ? n : nil
            }
        }
    }

    func count(_ key: Key) -> Int { counts.withLock { $0[key, default: 0] } }

    struct ExceededLimit: Error, Sendable {
        var which: Exceeded
        var limit: Int
    }
}

/// One stream's slots, given back exactly once: when its exchange ends, or when the slot is
/// dropped on a path that forgot to.
final class StreamSlot {
    private let release: () -> Void
    private var released = false

    init(release: @escaping () -> Void) { self.release = release }

    func giveBack() {
        guard !released else { return }
        released = true
        release()
    }

    deinit { giveBack() }
}

/// Open client connections per IP address in this gateway instance (all workers).
final class ConnectionLimiter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// False when `ip` already has `limit` connections (then nothing is counted).
    func admit(_ ip: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let n = counts[ip, default: 0]
            if n >= limit { return false }
            counts[ip] = n + 1
            return true
        }
    }

    func leave(_ ip: String) {
        counts.withLock { counts in
            let n = counts[ip, default: 0] - 1
            counts[ip] = n > 0 ? n : nil
        }
    }
}
