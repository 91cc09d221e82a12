import StreamgateCore
import StreamgateIO

/// Receives the events of an upstream connection while it serves one exchange.
protocol UpstreamConnectionOwner: AnyObject {
    func upstreamConnected(_ upstream: UpstreamConnection)
    func upstreamReadable(_ upstream: UpstreamConnection)
    func upstreamWritable(_ upstream: UpstreamConnection)
    func upstream(_ upstream: UpstreamConnection, event: ConnectionEvent)
}

/// One TCP connection to an upstream target: busy with an exchange, or idle in its pool.
final class UpstreamConnection: ConnectionDelegate {
    let connection: Connection
    let targetIndex: Int
    /// Which of the target's resolved addresses this connection went to.
    let addressIndex: Int
    let target: SocketAddress
    /// `target` as text for logs, formatted once per connection rather than per exchange.
    let targetText: String
    unowned let pool: UpstreamPool
    /// The exchange being served (nil while pooled). The exchange holds this connection and
    /// clears the field when it lets go; unowned rather than weak because a weak reference
    /// gives the exchange a side table, which slows every reference count on it thereafter.
    unowned var owner: UpstreamConnectionOwner?
    private(set) var isConnected = false
    /// True once it has served an exchange: a failure before any response byte may then be the
    /// server closing an idle connection, and an idempotent request can be retried.
    var reused = false
    /// When the connect began: `streamgate_upstream_connect_duration_seconds` runs to `.connected`.
    let connectStart = EventLoop.now()

    init(connection: Connection, targetIndex: Int, addressIndex: Int, target: SocketAddress, pool: UpstreamPool) {
        self.connection = connection
        self.targetIndex = targetIndex
        self.addressIndex = addressIndex
        self.target = target
        self.targetText = target.description
        self.pool = pool
        connection.delegate = self
    }

    deinit { connection.delegate = nil }

    func connectionReadable(_ connection: Connection) {
        if let owner { owner.upstreamReadable(self) } else { pool.idleConnectionBroke(self) }
    }

    func connectionWritable(_ connection: Connection) { owner?.upstreamWritable(self) }

    func connection(_ connection: Connection, event: ConnectionEvent) {
        if event == .connected {
            isConnected = true
            pool.connected(target: targetIndex, address: addressIndex)
            pool.metrics.counts.connectDuration.observe(from: connectStart, to: EventLoop.now(), buckets: .connect)
            connection.setTimeouts(read: nil, write: nil)
            owner?.upstreamConnected(self)
            return
        }
        // Refused, timed out or closed before the connect completed.
        if !isConnected { pool.metrics.counts.connectErrors &+= 1 }
        if let owner { owner.upstream(self, event: event) } else { pool.idleConnectionBroke(self) }
    }
}

/// Keep-alive connections to one upstream's targets, for one worker loop. Round-robin over targets.
final class UpstreamPool {
    let loop: EventLoop
    private(set) var settings: ProxySettings.Upstream
    private var idle: [[UpstreamConnection]]
    private var nextTarget = 0
    /// Per target, the address new connections try first: the last one that accepted. A name
    /// like `localhost` resolves to `::1` before `127.0.0.1` (Debian 12), and a server listening
    /// on one of them only would otherwise cost a refused connect on every new connection.
    private var preferredAddress: [Int]
    /// This upstream name's counters, kept by the worker across reloads.
    let metrics: UpstreamMetrics
    /// Idle connections found to have spoken (bytes or EOF) when taken, and closed instead.
    private(set) var staleDiscarded: UInt64 = 0
    /// Replaced by a reload: requests that started before it may still use the pool, but
    /// nothing is kept idle in it any more.
    private(set) var isRetired = false
    /// Response parsers of exchanges that ended in a plain response, for the next exchanges
    /// (one allocation less per request). Kept here, not on each connection: a field there
    /// would be carried by every held stream's upstream.
    private var spareParsers: [Box<ResponseHeadParser>] = []
    static let maxSpareParsers = 64

    func takeSpareParser() -> Box<ResponseHeadParser>? { spareParsers.popLast() }

    func keepSpareParser(_ parser: Box<ResponseHeadParser>) {
        if spareParsers.count < UpstreamPool.maxSpareParsers && !isRetired { spareParsers.append(parser) }
    }

    init(loop: EventLoop, settings: ProxySettings.Upstream, metrics: UpstreamMetrics) {
        self.loop = loop
        self.metrics = metrics
        self.settings = settings
        idle = Array(repeating: [], count: settings.targets.count)
        preferredAddress = Array(repeating: 0, count: settings.targets.count)
    }

    func preferredAddress(of target: Int) -> Int { preferredAddress[target] }

    func connected(target: Int, address: Int) { preferredAddress[target] = address }

    /// The next target in round-robin order (an index into `settings.targets`).
    func pickTarget() -> Int {
        let i = nextTarget % settings.targets.count
        nextTarget = (nextTarget + 1) % settings.targets.count
        return i
    }

    /// An idle pooled connection to `target`, or a new one being connected to `address` (an
    /// index into the target's addresses; its preferred one when nil).
    /// nil when the socket could not even be created (fd exhaustion): the caller answers 502.
    func acquire(target: Int, address: Int? = nil, connectTimeout: Duration, owner: UpstreamConnectionOwner) -> UpstreamConnection? {
        while address == nil, let c = takeIdle(target) {
            // Checked when taken, not only when returned: see `Connection.unpark`.
            guard c.connection.isOpen, c.connection.unpark() else {
                c.owner = nil
                c.connection.close()
                staleDiscarded += 1
                continue
            }
            c.owner = owner
            c.reused = true
            // Its idle timeout is left armed: the exchange sets its own at once (the request's
            // read timeout), and clearing it first would cost a timer removal per request.
            metrics.counts.reused &+= 1
            return c
        }
        let a = address ?? preferredAddress[target]
        let to = settings.targets[target].addresses[a]
        guard let conn = Connection.connect(loop: loop, to: to, timeout: connectTimeout,
                                            tls: settings.tls?.context, serverName: settings.serverName(target: target)) else {
            metrics.counts.connectErrors &+= 1
            return nil
        }
        metrics.counts.opened &+= 1
        let up = UpstreamConnection(connection: conn, targetIndex: target, addressIndex: a, target: to, pool: self)
        up.owner = owner
        conn.enableReading()
        return up
    }

    /// The newest idle connection to `target` parked before this loop turn, else the newest:
    /// one parked in an earlier turn is taken back without a system call (`Connection.unpark`).
    /// Under load a turn returns and takes many connections, so the newest is often this turn's.
    private func takeIdle(_ target: Int) -> UpstreamConnection? {
        guard let newest = idle[target].last else { return nil }
        if newest.connection.isParkedThisTurn,
           let i = idle[target].lastIndex(where: { !$0.connection.isParkedThisTurn }) {
            return idle[target].remove(at: i)
        }
        return idle[target].popLast()
    }

    /// Returns a healthy connection whose exchange finished cleanly; closes it when the pool is full.
    func release(_ up: UpstreamConnection) {
        up.owner = nil
        guard !isRetired, up.connection.isOpen, up.connection.inputCount == 0, idle[up.targetIndex].count < settings.poolSize else {
            up.connection.close()
            return
        }
        // An idle upstream that speaks or closes is dropped; so is one idle past the timeout.
        up.connection.park(idleTimeout: settings.idleTimeout)
        idle[up.targetIndex].append(up)
    }

    func idleConnectionBroke(_ up: UpstreamConnection) {
        up.connection.close()
        if let i = idle[up.targetIndex].firstIndex(where: { $0 === up }) { idle[up.targetIndex].remove(at: i) }
    }

    var idleCount: Int { idle.reduce(0) { $0 + $1.count } }

    func retire() {
        isRetired = true
        spareParsers.removeAll()
        closeIdle()
    }

    func closeIdle() {
        for list in idle { for c in list { c.connection.close() } }
        idle = Array(repeating: [], count: settings.targets.count)
    }
}
