internal import CHiredis
internal import CStreamgateShims
import StreamgateCore

protocol RedisLinkDelegate: AnyObject {
    /// Connected and handshake done: commands may be written to `session`.
    func linkReady(_ link: RedisLink, session: RedisSession)
    /// Connect failed or the connection was lost; the link is backing off.
    func linkDown(_ link: RedisLink)
    /// A reply no command asked for: pub/sub confirmations and messages.
    func linkReceivedPush(_ link: RedisLink, _ reply: RedisReply)
}

/// One logical connection that outlives its hiredis contexts: connect, handshake
/// (AUTH, SELECT or PING), ready, and on any failure back off and start over.
///
/// Every context gets a handshake that needs an answer from the server, so "ready" means
/// Redis is actually serving: a SIGSTOPped server still completes TCP handshakes from its
/// listen backlog, and only the connect deadline catches that.
final class RedisLink {
    enum State: Equatable { case idle, connecting, ready, backoff, closed }

    private(set) var state: State = .idle
    /// The context being connected or in use.
    private(set) var session: RedisSession?
    private(set) var lastError: String?
    /// Connection attempts after the first one.
    private(set) var reconnects: UInt64 = 0

    weak var delegate: RedisLinkDelegate?
    private let loop: EventLoop
    private let target: (ip: String, port: Int32)?
    private let config: RedisClientConfig
    private let selectsDatabase: Bool
    private let deferred: RedisDeferred
    private let counters: RedisCounters
    private var backoff = RedisBackoff()
    private var attempts: UInt64 = 0
    private var connectTimer: LoopTimer!
    private var retryTimer: LoopTimer!

    init(loop: EventLoop, target: (ip: String, port: Int32)?, unresolved: String?, config: RedisClientConfig,
         selectsDatabase: Bool, deferred: RedisDeferred, counters: RedisCounters) {
        self.loop = loop
        self.target = target
        self.config = config
        self.selectsDatabase = selectsDatabase
        self.deferred = deferred
        self.counters = counters
        self.lastError = unresolved
        connectTimer = LoopTimer(loop: loop) { [unowned self] in self.drop(reason: "connect/handshake timed out") }
        retryTimer = LoopTimer(loop: loop) { [unowned self] in
            if self.state == .backoff { self.connect() }
        }
    }

    /// Starts the first connection; later ones follow by themselves.
    func start() {
        if state == .idle { connect() }
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        connectTimer.cancel()
        retryTimer.cancel()
        if let s = session {
            session = nil
            s.free()
        }
    }

    private func connect() {
        if attempts > 0 { reconnects += 1 }
        attempts += 1
        state = .connecting
        guard let target else {
            // Resolution failed at start; nothing to do but stay unavailable.
            enterBackoff()
            return
        }
        guard let ac = redisAsyncConnect(target.ip, target.port) else {
            lastError = "redisAsyncConnect failed"
            enterBackoff()
            return
        }
        if ac.pointee.err != 0 {
            // Failed synchronously (e.g. refused on loopback): no callback will come, free it here.
            lastError = "connect failed: " + RedisSession.errorText(UnsafePointer(ac))
            redisAsyncFree(ac)
            enterBackoff()
            return
        }
        let s = RedisSession(ac: ac, link: self, deferred: deferred, counters: counters)
        guard sg_redis_libevent_attach(ac, loop.base) == 0 else {
            lastError = "cannot attach to event loop"
            s.free()
            enterBackoff()
            return
        }
        redisAsyncSetConnectCallback(ac) { ac, status in RedisSession.connected(ac, status) }
        redisAsyncSetDisconnectCallback(ac) { ac, status in RedisSession.disconnected(ac, status) }
        session = s
        // Pipelined behind the connect: hiredis writes them once the socket is writable, and
        // user commands wait for their replies (a failed AUTH or SELECT must not let commands
        // run unauthenticated or against database 0).
        var ok = true
        if let password = config.password {
            ok = ok && s.sendHandshake(["AUTH"] + (config.username.map { [$0] } ?? []) + [password])
        }
        if selectsDatabase, config.database != 0 {
            ok = ok && s.sendHandshake(["SELECT", String(config.database)])
        }
        if s.handshakeRemaining == 0 {
            ok = ok && s.sendHandshake(["PING"])
        }
        guard ok else {
            drop(reason: "cannot write handshake")
            return
        }
        connectTimer.schedule(after: config.connectTimeout)
    }

    // MARK: Events from the current session

    func sessionConnected(_ s: RedisSession) {
        guard s === session, state == .connecting else { return }
        readyIfDone(s)
    }

    func handshakeReplied(_ s: RedisSession, _ result: RedisResult) {
        guard s === session, state == .connecting else { return }
        switch result {
        case .success(.error(let message)):
            // Wrong password, unknown user, bad database: retrying is right (an operator may
            // fix the server's ACL), but slowly, which the backoff takes care of.
            drop(reason: "handshake rejected: \(message)")
        case .failure(let e):
            drop(reason: "handshake failed: \(e)")
        case .success:
            s.handshakeRemaining -= 1
            readyIfDone(s)
        }
    }

    private func readyIfDone(_ s: RedisSession) {
        guard s.connected, s.handshakeRemaining == 0 else { return }
        connectTimer.cancel()
        state = .ready
        backoff.reset()
        lastError = nil
        delegate?.linkReady(self, session: s)
    }

    /// The context is gone (connect failed or disconnected); hiredis frees it.
    func sessionEnded(_ s: RedisSession, reason: String) {
        guard s === session else { return }
        session = nil
        lastError = reason
        if state == .connecting || state == .ready { enterBackoff() }
    }

    func pushReceived(_ s: RedisSession, _ reply: RedisReply) {
        guard s === session, state == .ready else { return }
        delegate?.linkReceivedPush(self, reply)
    }

    /// Abandons the current context (timed out, rejected, stalled) and backs off.
    func drop(reason: String) {
        guard state == .connecting || state == .ready else { return }
        lastError = reason
        let s = session
        session = nil
        // State first: callbacks that the free runs synchronously must see a link that has
        // already moved on.
        state = .backoff
        s?.free()
        enterBackoff()
    }

    private func enterBackoff() {
        connectTimer.cancel()
        state = .backoff
        retryTimer.schedule(after: backoff.nextDelay())
        delegate?.linkDown(self)
    }
}
