import StreamgateCore
import StreamgateIO

/// Everything a request needs from the configuration on one worker: the settings, the
/// upstream pools built for them and the session store. A request pins the snapshot that was
/// current when it was read and keeps it to the end, so a reload (which installs a new one)
/// never changes a request or a stream midway: routes, pools and the store always belong to
/// the same configuration.
final class WorkerSnapshot {
    let settings: ProxySettings
    /// Per route, by `Route.index`: its slot in the worker's counters. Slots are by route name
    /// (`MetricsRegistry`), so a route keeps its counters across reloads.
    let routeSlots: [Int]
    /// One per `settings.upstreams`, same order (`Route.upstreamIndex`).
    let pools: [UpstreamPool]
    /// Present when auth is configured.
    let store: SessionStore?
    /// Fleet-wide stream limits, when `[limits] shared = true` (and so auth) is configured.
    let leases: StreamLeases?

    init(settings: ProxySettings, routeSlots: [Int], pools: [UpstreamPool], store: SessionStore?, leases: StreamLeases? = nil) {
        self.settings = settings
        self.routeSlots = routeSlots
        self.pools = pools
        self.store = store
        self.leases = leases
    }

    /// The snapshot for `settings`, taking over from `previous` what did not change: a pool
    /// whose upstream is configured exactly as before keeps its warm connections, and an
    /// unchanged session configuration keeps its store (cache, Redis links, subscriptions).
    /// Pools left behind stop pooling; a store left behind lives on while the streams that
    /// registered with it do (each holds it), then closes its Redis links.
    static func make(settings: ProxySettings, loop: EventLoop, previous: WorkerSnapshot?, registry: MetricsRegistry,
                     onError: @escaping (String) -> Void) -> WorkerSnapshot {
        var kept = Set<ObjectIdentifier>()
        let pools = settings.upstreams.map { upstream -> UpstreamPool in
            if let old = previous?.pools.first(where: { $0.settings.name == upstream.name && $0.settings == upstream }) {
                kept.insert(ObjectIdentifier(old))
                return old
            }
            return UpstreamPool(loop: loop, settings: upstream, metrics: registry.upstream(upstream.name))
        }
        for old in previous?.pools ?? [] where !kept.contains(ObjectIdentifier(old)) { old.retire() }
        var store: SessionStore?
        if let auth = settings.auth {
            if let old = previous?.store, old.runtime == auth {
                store = old
            } else {
                store = SessionStore(loop: loop, runtime: auth, metrics: registry.store, onError: onError)
            }
        }
        var leases: StreamLeases?
        let limits = settings.config.limits
        if limits.shared, let store {
            if let old = previous?.leases, old.store === store, old.ttl == limits.leaseTTL {
                leases = old
            } else {
                leases = StreamLeases(loop: loop, store: store, ttl: limits.leaseTTL, onError: onError)
            }
        }
        return WorkerSnapshot(settings: settings, routeSlots: settings.router.routes.map { registry.routeSlot($0.name) },
                              pools: pools, store: store, leases: leases)
    }
}

extension WorkerSnapshot {
    /// The route's slot in this worker's counters.
    @inline(__always)
    func metricsSlot(_ route: Route) -> Int { routeSlots[route.index] }
}
