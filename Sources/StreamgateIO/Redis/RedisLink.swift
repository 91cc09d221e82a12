import StreamgateCore

protocol RedisLinkDelegate: AnyObject {
    /// Connected and handshake done: commands may be written to `session`.
    func linkReady(_ link: RedisLink, session: RedisSession)
    /// Connect failed or the connection was lost; the link is backing off.
    func linkDown(_ link: RedisLink)
    /// Redis confirmed a subscription (pub/sub connection).
    func linkConfirmedSubscription(_ link: RedisLink, channel: String)
    /// A message published on a subscribed channel.
    func linkReceivedMessage(_ link: RedisLink, channel: String, payload: [UInt8])
}

/// One logical connection that outlives its TCP connections: connect, handshake
/// (AUTH, SELECT or PING), ready, and on any failure back off and start over.
///
/// Each (re)connect tries the resolved addresses in order until one accepts the TCP
/// connection (a host name may resolve to `::1` and `127.0.0.1` with Redis listening on one
/// of them only); only when every address failed does the link back off.
///
/// Every connection gets a handshake that needs an answer from the server, so "ready" means
/// Redis is actually serving: a SIGSTOPped server still completes TCP handshakes from its
/// listen backlog, and only the connect deadline catches that.
final class RedisLink {
    enum State: Equatable { case idle, connecting, ready, backoff, closed }

    private(set) var state: State = .idle
    /// The connection being set up or in use.
    private(set) var session: RedisSession?
    private(set) var lastError: String?
    /// Connection attempts after the first one (a pass over every address counts once).
    private(set) var reconnects: UInt64 = 0

    weak var delegate: RedisLinkDelegate?
    private let loop: EventLoop
    private let addresses: [SocketAddress]
    private let config: RedisClientConfig
    private let selectsDatabase: Bool
    private let deferred: RedisDeferred
    private let counters: RedisCounters
    private var backoff = RedisBackoff()
    private var attempts: UInt64 = 0
    /// The next address to try in this pass, and why the ones tried so far failed.
    private var nextAddress = 0
    private var passErrors: [String] = []
    private var connectTimer: LoopTimer!
    private var retryTimer: LoopTimer!

    init(loop: EventLoop, addresses: [SocketAddress], unresolved: String?, config: RedisClientConfig,
         selectsDatabase: Bool, deferred: RedisDeferred, counters: RedisCounters) {
        self.loop = loop
        self.addresses = addresses
        self.config = config
        self.selectsDatabase = selectsDatabase
        self.deferred = deferred
        self.counters = counters
        self.lastError = unresolved
        connectTimer = LoopTimer(loop: loop) { [unowned self] in self.connectTimedOut() }
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
            s.close()
        }
    }

    private func connect() {
        if attempts > 0 { reconnects += 1 }
        attempts += 1
        state = .connecting
        nextAddress = 0
        passErrors.removeAll()
        guard !addresses.isEmpty else {
            // Resolution failed at start; nothing to do but stay unavailable.
            enterBackoff()
            return
        }
        connectNextAddress()
    }

    /// Starts a connection to the next untried address; backs off when none is left.
    private func connectNextAddress() {
        while nextAddress < addresses.count {
            let address = addresses[nextAddress]
            nextAddress += 1
            switch RedisSession.connect(loop: loop, to: address, maxReplyBytes: config.maxReplyBytes, link: self,
                                        deferred: deferred, counters: counters) {
            case .success(let s):
                session = s
                connectTimer.schedule(after: config.connectTimeout)
                return
            case .failure(let f):
                passErrors.append("\(address) \(f.reason)")
            }
        }
        lastError = passErrors.joined(separator: "; ")
        enterBackoff()
    }

    private func connectTimedOut() {
        guard state == .connecting else { return }
        if let s = session, !s.connected {
            // No TCP connection within the deadline: the next address may do better.
            session = nil
            s.close()
            passErrors.append("\(s.address) connect timed out")
            connectNextAddress()
        } else {
            drop(reason: "connect/handshake timed out")
        }
    }

    // MARK: Events from the current session

    func sessionConnected(_ s: RedisSession) {
        guard s === session, state == .connecting else { return }
        // Pipelined: user commands wait for these replies (a failed AUTH or SELECT must not
        // let commands run unauthenticated or against database 0).
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
        if !ok { drop(reason: "cannot write handshake") }
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

    /// The connection is gone (connect failed, or lost); the session closed itself.
    func sessionEnded(_ s: RedisSession, reason: String) {
        guard s === session else { return }
        session = nil
        if state == .connecting, !s.connected {
            connectTimer.cancel()
            passErrors.append("\(s.address) \(reason)")
            connectNextAddress()
            return
        }
        lastError = reason
        if state == .connecting || state == .ready { enterBackoff() }
    }

    /// The server broke the protocol: the connection cannot be trusted with another reply.
    func sessionFailed(_ s: RedisSession, reason: String) {
        guard s === session else { return }
        drop(reason: reason)
    }

    func subscriptionConfirmed(_ s: RedisSession, channel: String) {
        guard s === session, state == .ready else { return }
        delegate?.linkConfirmedSubscription(self, channel: channel)
    }

    func messageReceived(_ s: RedisSession, channel: String, payload: [UInt8]) {
        guard s === session, state == .ready else { return }
        delegate?.linkReceivedMessage(self, channel: channel, payload: payload)
    }

    /// Abandons the current connection (timed out, rejected, stalled, broken) and backs off.
    func drop(reason: String) {
        guard state == .connecting || state == .ready else { return }
        lastError = reason
        let s = session
        session = nil
        state = .backoff
        s?.close()
        enterBackoff()
    }

    private func enterBackoff() {
        connectTimer.cancel()
        state = .backoff
        retryTimer.schedule(after: backoff.nextDelay())
        delegate?.linkDown(self)
    }
}
