import StreamgateCore
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// One event-loop thread's share of the gateway: its own listeners (SO_REUSEPORT siblings),
/// upstream pools, client sessions and log buffer. Nothing here is shared with other workers.
final class Worker {
    let index: Int
    let loop: EventLoop
    /// The configuration new requests use; each request pins the one it started with.
    private(set) var current: WorkerSnapshot
    var settings: ProxySettings { current.settings }
    var pools: [UpstreamPool] { current.pools }
    /// The session store client and cache, when auth is configured.
    var store: SessionStore? { current.store }
    /// Keyed by the configured address (port 0 included), which is what a reload compares.
    private var listeners: [(configured: SocketAddress, listener: Listener)] = []
    private var sessions: [ObjectIdentifier: ClientConnection] = [:]
    private var requestIDs: RequestIDGenerator
    private let logSink: LogSink
    /// The loop, live counters, logs and drain flag, as handed to exchanges and stream relays.
    let services: WorkerServices
    var isDraining: Bool { services.isDraining }
    private var listenersPaused = false
    /// `registry` gives route and upstream names their slots in `services.metrics`.
    let registry: MetricsRegistry
    private var maxConnections: Int
    private var onIdleAfterDrain: (() -> Void)?
    private var drainTimer: LoopTimer?
    private var metricsTimer: LoopTimer?
    /// Hands a snapshot of the counters to the admin endpoint's thread.
    var publishMetrics: ((WorkerMetrics) -> Void)? {
        didSet { publishMetrics?(metricsSnapshot()) }
    }

    let streamLimiter: StreamLimiter
    let connectionLimiter: ConnectionLimiter

    init(index: Int, loop: EventLoop, settings: ProxySettings, listenFDs: [(configured: SocketAddress, fd: Int32)],
         logSink: LogSink, maxConnections: Int, streamLimiter: StreamLimiter = StreamLimiter(),
         connectionLimiter: ConnectionLimiter = ConnectionLimiter()) throws {
        self.streamLimiter = streamLimiter
        self.connectionLimiter = connectionLimiter
        self.index = index
        self.loop = loop
        self.logSink = logSink
        self.services = WorkerServices(loop: loop, logSink: logSink)
        self.maxConnections = maxConnections
        self.requestIDs = RequestIDGenerator(randomPrefix: RequestIDGenerator.prefix(random: Crypto.randomBytes(RequestIDGenerator.prefixLength)))
        let registry = MetricsRegistry()
        self.registry = registry
        current = WorkerSnapshot.make(settings: settings, loop: loop, previous: nil, registry: registry) { message in logSink.error(message) }
        let t = LoopTimer(loop: loop) { [unowned self] in
            self.publishMetrics?(self.metricsSnapshot())
            self.metricsTimer?.schedule(after: .seconds(1))
        }
        metricsTimer = t
        t.schedule(after: .seconds(1))
        syncRouteSlots()
        for l in listenFDs { try addListener(configured: l.configured, fd: l.fd) }
    }

    /// Starts accepting on a bound, listening socket (taking ownership of `fd`).
    func addListener(configured: SocketAddress, fd: Int32) throws(ListenError) {
        let l = try Listener(loop: loop, fd: fd) { [unowned self] fd in self.accept(fd, listener: configured) }
        l.onAcceptError = { [unowned self] err in
            self.services.metrics.acceptErrors += 1
            // One line per burst, not per failed accept.
            if self.services.metrics.acceptErrors == 1 || self.services.metrics.acceptErrors % 1000 == 0 {
                self.logError("accept failed (errno \(err)\(err == EMFILE || err == ENFILE ? ": out of file descriptors" : "")); retrying in 100ms")
            }
        }
        if listenersPaused || isDraining { l.pause() }
        listeners.append((configured, l))
    }

    /// Stops accepting on a listener; its connections carry on until they end.
    func removeListener(configured: SocketAddress) {
        for entry in listeners where entry.configured == configured { entry.listener.close() }
        listeners.removeAll { $0.configured == configured }
    }

    /// Installs a reloaded configuration for requests read from now on. Requests, exchanges
    /// and streams already running keep the snapshot they started with.
    func apply(settings: ProxySettings, maxConnections: Int) {
        current = WorkerSnapshot.make(settings: settings, loop: loop, previous: current, registry: registry) { [unowned self] in self.logError($0) }
        syncRouteSlots()
        self.maxConnections = maxConnections
        if listenersPaused, !isDraining, sessions.count < maxConnections {
            listenersPaused = false
            for l in listeners { l.listener.resume() }
        } else if !listenersPaused, sessions.count >= maxConnections {
            listenersPaused = true
            for l in listeners { l.listener.pause() }
        }
    }

    private func accept(_ fd: Int32, listener: SocketAddress) {
        let policy = settings.listener(configured: listener)
        // Behind PROXY protocol the header comes in the clear first: TLS starts after it
        // (`ClientConnection.readProxyHeader`).
        let tls = policy.proxyProtocol ? nil : policy.tls
        let made: Connection? = tls.map { Connection(loop: loop, fd: fd, tls: $0) } ?? Connection(loop: loop, fd: fd)
        guard let conn = made else {
            logError("cannot start TLS on an accepted connection (out of memory?)")
            return
        }
        services.metrics.connectionsAccepted += 1
        var countedIP: String?
        // Behind PROXY protocol the TCP peer is the balancer: the client is counted once its
        // header names it (`admitProxiedClient`).
        if !policy.proxyProtocol {
            let ip = conn.peerAddress?.ipString ?? "-"
            let (admitted, counted) = admitPerIP(ip)
            guard admitted else { conn.close(); return }
            if counted { countedIP = ip }
        }
        let s = ClientConnection(worker: self, client: conn, listener: policy)
        s.countedIP = countedIP
        sessions[ObjectIdentifier(s)] = s
        services.metrics.connectionsOpen = sessions.count
        if sessions.count >= maxConnections { makeRoom() }
        s.processInput()
    }

    /// `max_connections_per_ip`: whether `ip` may open another connection, and whether it was
    /// counted (to be given back when the connection closes).
    private func admitPerIP(_ ip: String) -> (admitted: Bool, counted: Bool) {
        let perIP = settings.config.limits.maxConnectionsPerIP
        guard perIP > 0 else { return (true, false) }
        guard connectionLimiter.admit(ip, limit: perIP) else {
            services.metrics.connectionsRejectedPerIP += 1
            return (false, false)
        }
        return (true, true)
    }

    /// The per-IP check of a `proxy_protocol` connection, once its header named the client.
    func admitProxiedClient(_ s: ClientConnection, ip: String) -> Bool {
        let (admitted, counted) = admitPerIP(ip)
        if counted { s.countedIP = ip }
        return admitted
    }

    /// PROXY headers refused (missing, malformed, late). One line per burst: a balancer that
    /// does not send the header has every connection refused.
    private var proxyHeadersRefused: UInt64 = 0

    func proxyHeaderRefused(peer: String, reason: String) {
        proxyHeadersRefused += 1
        if proxyHeadersRefused == 1 || proxyHeadersRefused % 1000 == 0 {
            logError("PROXY protocol header from \(peer) refused: \(reason); connection closed (\(proxyHeadersRefused) so far)")
        }
    }

    /// At `max_connections`: idle keep-alive connections go first (a client that is not using
    /// its connection loses nothing but a reconnect); only when none is idle does accepting
    /// pause until a connection ends.
    private func makeRoom() {
        for s in sessions.values where sessions.count >= maxConnections && s.isIdleKeepAlive {
            services.metrics.idleConnectionsShed += 1
            s.closeNow()
        }
        if sessions.count >= maxConnections, !listenersPaused {
            listenersPaused = true
            for l in listeners { l.listener.pause() }
        }
    }

    func sessionClosed(_ s: ClientConnection) {
        sessions[ObjectIdentifier(s)] = nil
        if let ip = s.countedIP {
            s.countedIP = nil
            connectionLimiter.leave(ip)
        }
        services.metrics.connectionsOpen = sessions.count
        if listenersPaused, !isDraining, sessions.count < maxConnections {
            listenersPaused = false
            for l in listeners { l.listener.resume() }
        }
        if isDraining && sessions.isEmpty { drained() }
    }

    func nextRequestID() -> String { requestIDs.next() }

    // MARK: - Logging

    func logError(_ message: String) { logSink.error(message) }

    // MARK: - Drain

    /// Stops accepting, closes idle connections, lets exchanges finish; after `timeout` whatever
    /// is left is closed. `done` runs on this loop once no session remains.
    func beginDrain(timeout: Duration, done: @escaping () -> Void) {
        guard !isDraining else { return }
        services.isDraining = true
        onIdleAfterDrain = done
        for l in listeners { l.listener.close() }
        listeners.removeAll()
        for p in pools { p.closeIdle() }
        for s in Array(sessions.values) { s.beginDrain() }
        if sessions.isEmpty { drained(); return }
        let t = LoopTimer(loop: loop) { [unowned self] in
            for s in Array(self.sessions.values) {
                // Counted as ended by the drain, not by the client the close is reported as.
                s.exchange?.stream?.stop(.drain)
                s.closeNow()
            }
        }
        drainTimer = t
        t.schedule(after: timeout)
    }

    private func drained() {
        drainTimer?.cancel()
        // Stream leases given back in the last turns must reach Redis before the loop stops,
        // or their slots stay taken fleet-wide until they expire. Bounded by the Redis timeout.
        if let leases = current.leases, leases.releasesInFlight > 0, onIdleAfterDrain != nil {
            let deadline = EventLoop.now() + leases.store.runtime.redis.commandTimeout
            let t = LoopTimer(loop: loop) { [unowned self] in
                if leases.releasesInFlight > 0 && EventLoop.now() < deadline {
                    self.drainTimer?.schedule(after: .milliseconds(5))
                } else {
                    self.finishDrain()
                }
            }
            drainTimer = t
            t.schedule(after: .milliseconds(5))
            return
        }
        finishDrain()
    }

    private func finishDrain() {
        let done = onIdleAfterDrain
        onIdleAfterDrain = nil
        logSink.flush()
        done?()
    }

    var openSessions: Int { sessions.count }

    /// New route names from the registry get their counters (slots are only ever appended).
    private func syncRouteSlots() {
        while services.metrics.routes.count < registry.routeNames.count { services.metrics.routes.append(RouteCounters()) }
        services.metrics.routeNames = registry.routeNames
    }

    /// Counters as published to the admin endpoint, upstream and store counters folded in.
    /// Live streams' events and bytes are already current (`StreamRelay.flushMetrics` runs
    /// per relayed batch): no walk over the sessions, which would stall the loop for
    /// milliseconds once a second with thousands of streams open.
    func metricsSnapshot() -> WorkerMetrics {
        registry.store.collect()
        var m = services.metrics
        m.upstreamNames = registry.upstreams.map(\.name)
        m.upstreams = registry.upstreams.map(\.metrics.counts)
        m.store = registry.store.counts
        m.sessionCacheEntries = store?.cacheEntries ?? 0
        return m
    }

    /// Frees every loop-bound object while the loop still exists (called after it stopped).
    func shutdown() {
        for s in Array(sessions.values) { s.closeNow() }
        sessions.removeAll()
        for p in pools { p.closeIdle() }
        listeners.removeAll()
        drainTimer = nil
        metricsTimer = nil
        current = WorkerSnapshot(settings: current.settings, routeSlots: current.routeSlots, pools: [], store: nil)
        logSink.flush()
    }
}
