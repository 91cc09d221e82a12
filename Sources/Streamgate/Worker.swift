import StreamgateCore
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// Counters of one worker; the admin endpoint sums them across workers.
struct WorkerMetrics: Sendable {
    var streamsOpen: Int = 0
    var streamsStarted: UInt64 = 0
    var keepalivesSent: UInt64 = 0
    var redisLookups: UInt64 = 0
    var sessionCacheHits: UInt64 = 0
    var revocations: UInt64 = 0
    /// Revocation-channel messages that named no token digest (logged, then ignored).
    var malformedRevocations: UInt64 = 0
    /// Redis connections dropped because the server broke the protocol.
    var redisProtocolErrors: UInt64 = 0
    var upstreamConnectionsOpened: UInt64 = 0
    var upstreamConnectionsReused: UInt64 = 0
    var connectionsAccepted: UInt64 = 0
    var connectionsOpen: Int = 0
    var badRequests: UInt64 = 0
    var slowConsumerDisconnects: UInt64 = 0
    var authDenials: UInt64 = 0
    var acceptErrors: UInt64 = 0
    var statusClasses = [UInt64](repeating: 0, count: 6)

    mutating func responses(status: Int) {
        let c = status / 100
        if c >= 1 && c <= 5 { statusClasses[c] += 1 } else { statusClasses[0] += 1 }
    }
}

/// One event-loop thread's share of the gateway: its own listeners (SO_REUSEPORT siblings),
/// upstream pools, client sessions and log buffer. Nothing here is shared with other workers.
final class Worker {
    let index: Int
    let loop: EventLoop
    private(set) var settings: ProxySettings
    private(set) var pools: [UpstreamPool] = []
    private var listeners: [Listener] = []
    private var sessions: [ObjectIdentifier: ClientSession] = [:]
    private var requestIDs: RequestIDGenerator
    private let logSink: LogSink
    private(set) var isDraining = false
    private var listenersPaused = false
    var metrics = WorkerMetrics()
    /// The session store client and cache, when auth is configured.
    private(set) var store: SessionStore?
    private let maxConnections: Int
    private var onIdleAfterDrain: (() -> Void)?
    private var drainTimer: LoopTimer?
    private var metricsTimer: LoopTimer?
    /// Hands a snapshot of the counters to the admin endpoint's thread.
    var publishMetrics: ((WorkerMetrics) -> Void)? {
        didSet { publishMetrics?(metricsSnapshot()) }
    }

    init(index: Int, loop: EventLoop, settings: ProxySettings, listenFDs: [Int32], logSink: LogSink, maxConnections: Int) throws {
        self.index = index
        self.loop = loop
        self.settings = settings
        self.logSink = logSink
        self.maxConnections = maxConnections
        self.requestIDs = RequestIDGenerator(randomPrefix: Hex.lowercase(Crypto.randomBytes(6)))
        pools = settings.upstreams.map { UpstreamPool(loop: loop, settings: $0) }
        if let auth = settings.auth {
            store = SessionStore(loop: loop, runtime: auth) { message in logSink.error(message) }
        }
        let t = LoopTimer(loop: loop) { [unowned self] in
            self.publishMetrics?(self.metricsSnapshot())
            self.metricsTimer?.schedule(after: .seconds(1))
        }
        metricsTimer = t
        t.schedule(after: .seconds(1))
        // `listenFDs` follow `[[listeners]]` order, so a socket's index names its listener.
        for (index, fd) in listenFDs.enumerated() {
            let l = try Listener(loop: loop, fd: fd) { [unowned self] fd in self.accept(fd, listener: index) }
            l.onAcceptError = { [unowned self] err in
                self.metrics.acceptErrors += 1
                // One line per burst, not per failed accept.
                if self.metrics.acceptErrors == 1 || self.metrics.acceptErrors % 1000 == 0 {
                    self.logError("accept failed (errno \(err)\(err == EMFILE || err == ENFILE ? ": out of file descriptors" : "")); retrying in 100ms")
                }
            }
            listeners.append(l)
        }
    }

    private func accept(_ fd: Int32, listener: Int) {
        let conn = Connection(loop: loop, fd: fd)
        let s = ClientSession(worker: self, client: conn, listener: settings.listener(listener))
        sessions[ObjectIdentifier(s)] = s
        metrics.connectionsAccepted += 1
        metrics.connectionsOpen = sessions.count
        if sessions.count >= maxConnections, !listenersPaused {
            listenersPaused = true
            for l in listeners { l.pause() }
        }
        s.processInput()
    }

    func sessionClosed(_ s: ClientSession) {
        sessions[ObjectIdentifier(s)] = nil
        metrics.connectionsOpen = sessions.count
        if listenersPaused, !isDraining, sessions.count < maxConnections {
            listenersPaused = false
            for l in listeners { l.resume() }
        }
        if isDraining && sessions.isEmpty { drained() }
    }

    func nextRequestID() -> String { requestIDs.next() }

    // MARK: - Logging

    func log(_ record: AccessLogRecord) { logSink.access(record) }
    var logsAccess: Bool { logSink.logsAccess }
    func logError(_ message: String) { logSink.error(message) }
    func logTime() -> String { logSink.timestamp() }

    // MARK: - Drain

    /// Stops accepting, closes idle connections, lets exchanges finish; after `timeout` whatever
    /// is left is closed. `done` runs on this loop once no session remains.
    func beginDrain(timeout: Duration, done: @escaping () -> Void) {
        guard !isDraining else { return }
        isDraining = true
        onIdleAfterDrain = done
        for l in listeners { l.close() }
        listeners.removeAll()
        for p in pools { p.closeIdle() }
        for s in Array(sessions.values) { s.beginDrain() }
        if sessions.isEmpty { drained(); return }
        let t = LoopTimer(loop: loop) { [unowned self] in
            for s in Array(self.sessions.values) { s.closeNow() }
        }
        drainTimer = t
        t.schedule(after: timeout)
    }

    private func drained() {
        drainTimer?.cancel()
        let done = onIdleAfterDrain
        onIdleAfterDrain = nil
        logSink.flush()
        done?()
    }

    var openSessions: Int { sessions.count }

    /// Counters as published to the admin endpoint (gauges from the store and pools folded in).
    func metricsSnapshot() -> WorkerMetrics {
        var m = metrics
        m.redisLookups = store?.redisLookups ?? 0
        m.sessionCacheHits = store?.cacheHits ?? 0
        m.revocations = store?.revocations ?? 0
        m.malformedRevocations = store?.malformedRevocations ?? 0
        m.redisProtocolErrors = store?.redis.protocolErrors ?? 0
        m.upstreamConnectionsOpened = pools.reduce(0) { $0 + $1.opened }
        m.upstreamConnectionsReused = pools.reduce(0) { $0 + $1.reusedCount }
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
        store = nil
        logSink.flush()
    }
}
