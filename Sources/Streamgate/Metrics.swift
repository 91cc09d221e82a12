import StreamgateCore
import StreamgateIO

// Counters live per worker, on its loop: plain integers and arrays indexed by a route's slot
// and an enum's raw value, so counting is an add, with no lock, dictionary or string on the
// request path. Each worker publishes a copy about once a second; the admin endpoint sums the
// copies when scraped (`MetricsExposition`).

/// One route's counters on one worker. The slot (see `MetricsRegistry`) belongs to the
/// route's name for the worker's life, so a reload never moves or resets them.
struct RouteCounters: Sendable {
    /// By `StatusClass.index`.
    var requests = [UInt64](repeating: 0, count: StatusClass.labels.count)
    /// Whole requests that are not event streams, from the head read to the response handed on.
    var duration = Histogram(buckets: .request)
    /// Non-stream responses: from the first upstream connect attempt to the response head.
    var firstByte = Histogram(buckets: .request)
    var streamsOpen = 0
    var streamsStarted: UInt64 = 0
    /// By `StreamEndReason.rawValue`.
    var streamsEnded = [UInt64](repeating: 0, count: StreamEndReason.allCases.count)
    /// Events relayed (blank-line dispatches with data), counted by the boundary tracker.
    var events: UInt64 = 0
    /// Response body bytes relayed from the upstream, streams included (framing excluded).
    var bytes: UInt64 = 0
    var keepalives: UInt64 = 0
    /// By `AuthOutcome.rawValue`.
    var auth = [UInt64](repeating: 0, count: AuthOutcome.allCases.count)

    mutating func add(_ o: RouteCounters) {
        for i in requests.indices { requests[i] &+= o.requests[i] }
        duration.add(o.duration)
        firstByte.add(o.firstByte)
        streamsOpen += o.streamsOpen
        streamsStarted &+= o.streamsStarted
        for i in streamsEnded.indices { streamsEnded[i] &+= o.streamsEnded[i] }
        events &+= o.events
        bytes &+= o.bytes
        keepalives &+= o.keepalives
        for i in auth.indices { auth[i] &+= o.auth[i] }
    }
}

/// One upstream name's connection counters on one worker.
struct UpstreamCounters: Sendable {
    var opened: UInt64 = 0
    var reused: UInt64 = 0
    /// Connects refused, timed out, or that could not even get a socket.
    var connectErrors: UInt64 = 0
    var connectDuration = Histogram(buckets: .connect)

    mutating func add(_ o: UpstreamCounters) {
        opened &+= o.opened
        reused &+= o.reused
        connectErrors &+= o.connectErrors
        connectDuration.add(o.connectDuration)
    }
}

/// Session store and Redis counters of one worker, over every store it has had.
struct StoreCounters: Sendable {
    /// Session reads sent to Redis (lookups of uncached tokens and stream re-checks).
    var lookups: UInt64 = 0
    /// Reads that got no usable answer: Redis unreachable, timed out, or an error reply.
    var lookupErrors: UInt64 = 0
    var lookupDuration = Histogram(buckets: .connect)
    /// Lookups answered from the cache (negative entries included).
    var cacheHits: UInt64 = 0
    /// Lookups the cache could not answer (each waits for a Redis read, its own or a shared one).
    var cacheMisses: UInt64 = 0
    var revocations: UInt64 = 0
    var malformedRevocations: UInt64 = 0
    var reconnects: UInt64 = 0
    var protocolErrors: UInt64 = 0

    mutating func add(_ o: StoreCounters) {
        lookups &+= o.lookups
        lookupErrors &+= o.lookupErrors
        lookupDuration.add(o.lookupDuration)
        cacheHits &+= o.cacheHits
        cacheMisses &+= o.cacheMisses
        revocations &+= o.revocations
        malformedRevocations &+= o.malformedRevocations
        reconnects &+= o.reconnects
        protocolErrors &+= o.protocolErrors
    }
}

/// Counters of one worker, as it publishes them to the admin endpoint. On the worker itself
/// this is the live copy for everything but `upstreams` and `store` (filled in when published).
struct WorkerMetrics: Sendable {
    var connectionsAccepted: UInt64 = 0
    var connectionsOpen: Int = 0
    var badRequests: UInt64 = 0
    var slowConsumerDisconnects: UInt64 = 0
    var acceptErrors: UInt64 = 0
    /// Connections closed at accept: their IP already had `max_connections_per_ip`.
    var connectionsRejectedPerIP: UInt64 = 0
    /// Idle keep-alive connections closed to make room at `max_connections`.
    var idleConnectionsShed: UInt64 = 0
    /// Streams refused with 429, by the limit that refused them.
    var streamsRefusedRoute: UInt64 = 0
    var streamsRefusedUser: UInt64 = 0
    var streamsRefusedTenant: UInt64 = 0

    /// Slot i is `routeNames[i]`; slot 0 (`MetricsRegistry.noRoute`, name "") counts requests
    /// that matched no route (404, 405, unparseable).
    var routeNames: [String] = [""]
    var routes: [RouteCounters] = [RouteCounters()]
    var upstreamNames: [String] = []
    var upstreams: [UpstreamCounters] = []
    var store = StoreCounters()
    /// Entries in the current session cache (a gauge).
    var sessionCacheEntries = 0

    var malformedRevocations: UInt64 { store.malformedRevocations }

    /// A response finished. `elapsedNanos` is nil for event streams (kept out of the duration
    /// histogram).
    /// `bodyBytes`: what a non-stream response relayed. One mutating call per event, so the
    /// caller pays one access to the worker's counters.
    @inline(__always)
    mutating func responded(slot: Int, status: Int, elapsedNanos: UInt64?, bodyBytes: UInt64 = 0) {
        routes[slot].requests[StatusClass.index(status)] &+= 1
        if let elapsedNanos { routes[slot].duration.observe(nanos: elapsedNanos, buckets: .request) }
        routes[slot].bytes &+= bodyBytes
    }

    @inline(__always)
    mutating func relayed(slot: Int, events: UInt64, bytes: UInt64) {
        routes[slot].events &+= events
        routes[slot].bytes &+= bytes
    }

    @inline(__always)
    mutating func streamStarted(slot: Int) {
        routes[slot].streamsOpen += 1
        routes[slot].streamsStarted &+= 1
    }

    @inline(__always)
    mutating func streamEnded(slot: Int, _ reason: StreamEndReason) {
        routes[slot].streamsOpen -= 1
        routes[slot].streamsEnded[reason.rawValue] &+= 1
    }

    @inline(__always)
    mutating func authenticated(slot: Int, _ outcome: AuthOutcome) {
        routes[slot].auth[outcome.rawValue] &+= 1
    }
}

/// The live counters of one upstream name on one worker, shared by every pool built for that
/// name (a reload that changes the upstream replaces its pool, not its counters).
final class UpstreamMetrics {
    var counts = UpstreamCounters()
}

/// The session-store counters of one worker, shared by every store it builds: a reload that
/// changes `[redis]` or `[sessions]` replaces the store, and the totals carry on.
final class SessionStoreMetrics {
    var counts = StoreCounters()
    private struct WeakStore { weak var store: SessionStore? }
    /// Stores still alive (a replaced one lives while its streams do), whose Redis client's
    /// own counters are folded in by `collect`.
    private var stores: [WeakStore] = []

    func track(_ store: SessionStore) { stores.append(WeakStore(store: store)) }

    /// Brings in what the Redis clients counted since the last call (a store that goes away
    /// reports its last share from `deinit`).
    func collect() {
        stores.removeAll { $0.store == nil }
        for s in stores { s.store?.reportRedisCounters() }
    }
}

/// Names to slots, for one worker's life. Consulted when a configuration is installed, never
/// per request: a snapshot carries each route's slot (`WorkerSnapshot.routeSlots`).
/// Slots are only ever added, so a route name keeps its counters across reloads, including
/// one removed and added back; a removed name's totals stay exported (they never go back).
final class MetricsRegistry {
    static let noRoute = 0
    private(set) var routeNames: [String] = [""]
    private var routeSlots: [String: Int] = [:]
    private(set) var upstreams: [(name: String, metrics: UpstreamMetrics)] = []
    let store = SessionStoreMetrics()

    func routeSlot(_ name: String) -> Int {
        if let slot = routeSlots[name] { return slot }
        routeNames.append(name)
        routeSlots[name] = routeNames.count - 1
        return routeNames.count - 1
    }

    func upstream(_ name: String) -> UpstreamMetrics {
        if let u = upstreams.first(where: { $0.name == name }) { return u.metrics }
        let m = UpstreamMetrics()
        upstreams.append((name, m))
        return m
    }
}

extension ClientConnection.PendingRequest {
    var metricsSlot: Int { snapshot.metricsSlot(route) }
}

extension ProxyExchange {
    var metricsSlot: Int { snapshot.metricsSlot(route) }

    /// The exchange's response ended (or was abandoned): its status, and for anything but an
    /// event stream its duration and body bytes (a stream's bytes are counted as they flow,
    /// see `StreamRelay.flushMetrics`).
    func countEnd(status: Int) {
        services.metrics.responded(slot: metricsSlot, status: status,
                                   elapsedNanos: isStream ? nil : EventLoop.now().nanoseconds(since: startTime),
                                   bodyBytes: stream == nil ? bytesOut : 0)
    }

    /// A non-stream response head arrived from the upstream.
    func countFirstByte() {
        services.metrics.routes[metricsSlot].firstByte.observe(from: upstreamStart, to: EventLoop.now(), buckets: .request)
    }
}
