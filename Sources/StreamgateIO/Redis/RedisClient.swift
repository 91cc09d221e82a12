import StreamgateCore

/// A Redis client for one event loop: our own libevent connections and reply dispatch over
/// hiredis' RESP parser (`RedisSession`).
///
/// **Loop-confined, not thread-safe**: create it, call it and close it on the loop's thread;
/// give each loop its own client. Every completion and message handler runs on that thread.
///
/// Guarantees callers build on:
/// - each `command` completion runs exactly once: with the reply, `.timeout` after
///   `commandTimeout` (a late reply is dropped), or `.unavailable`;
/// - a completion never runs inside the `command()` (or `close()`) call that caused it:
///   immediate failures are delivered on the next loop turn;
/// - commands wait for AUTH and SELECT on every (re)connect, in a bounded queue; while the
///   client backs off after a failure they fail fast instead of queueing.
///
/// Reconnects follow `RedisBackoff` (100 ms doubling to 5 s, jittered). A command that times
/// out on a connection that has answered nothing since it was sent marks the connection
/// dead (a stopped or partitioned server), so it is replaced rather than queued on forever.
/// A server that breaks the protocol (a reply nothing asked for, a malformed pub/sub push, a
/// reply over `maxReplyBytes`) gets the same treatment: that connection is dropped and its
/// commands fail; the process and the other connection carry on.
///
/// Pub/sub uses a second connection, opened by the first `subscribe`: a subscribed Redis
/// connection cannot run ordinary commands. Subscriptions are renewed after reconnects;
/// messages published while disconnected are lost (Redis pub/sub is fire-and-forget).
public final class RedisClient {
    public let config: RedisClientConfig
    private let loop: EventLoop
    private let deferred: RedisDeferred
    private let counters = RedisCounters()
    /// Every address `config.host` resolved to, in the order connects try them.
    public let addresses: [SocketAddress]
    private let resolveError: String?
    private var commandLink: RedisLink!
    private var pubsubLink: RedisLink?
    /// Commands issued while the handshake runs; written once it succeeds.
    private var waiting: [RedisPendingCommand] = []
    private var deadlines = RedisDeadlineQueue()
    private var deadlineTimer: LoopTimer!
    private var handlers: [String: [([UInt8]) -> Void]] = [:]
    private var confirmHandlers: [String: [() -> Void]] = [:]
    private var confirmedChannels: Set<String> = []
    private var closed = false

    /// Creates the client; connects on `start()` or the first command.
    ///
    /// A host name is resolved here, once, with a blocking lookup (call at start or reload,
    /// not per request), and every address is kept. If it does not resolve, the client stays
    /// unavailable and `lastError` says why.
    public convenience init(loop: EventLoop, config: RedisClientConfig) {
        var addresses: [SocketAddress] = []
        var resolveError: String?
        if let port = UInt16(exactly: config.port), port > 0 {
            do {
                addresses = try SocketAddress.resolveAll(host: config.host, port: port)
            } catch {
                resolveError = error.description
            }
        } else {
            resolveError = "invalid port \(config.port)"
        }
        self.init(loop: loop, config: config, addresses: addresses, resolveError: resolveError)
    }

    /// With the addresses given (tests: an order no resolver would produce).
    init(loop: EventLoop, config: RedisClientConfig, addresses: [SocketAddress], resolveError: String? = nil) {
        self.loop = loop
        self.config = config
        self.deferred = RedisDeferred(base: loop.base)
        self.addresses = addresses
        self.resolveError = resolveError
        commandLink = makeLink(selectsDatabase: true)
        deadlineTimer = LoopTimer(loop: loop) { [unowned self] in self.deadlinesDue() }
    }

    deinit { close() }

    /// Connects now rather than on the first command, so the first request does not pay for it.
    public func start() {
        guard !closed else { return }
        commandLink.start()
    }

    // MARK: Commands

    /// Sends one command, e.g. `["HGETALL", key]`. Arguments are sent as their UTF-8 bytes.
    public func command(_ args: [String], completion: @escaping (RedisResult) -> Void) {
        submit(RedisPendingCommand.encode(args.lazy.map(\.utf8)), completion)
    }

    /// Sends one command whose arguments are arbitrary bytes.
    public func command(bytes args: [[UInt8]], completion: @escaping (RedisResult) -> Void) {
        submit(RedisPendingCommand.encode(args), completion)
    }

    private func submit(_ encoded: [UInt8]?, _ completion: @escaping (RedisResult) -> Void) {
        let now = EventLoop.now()
        let cmd = RedisPendingCommand(bytes: encoded ?? [], deadline: now + config.commandTimeout, completion: completion)
        guard encoded != nil else { return deferred.fail(cmd, .protocolError("empty command")) }
        guard !closed else { return deferred.fail(cmd, .unavailable) }
        commandLink.start()
        guard waiting.count + counters.inFlight < config.maxPendingCommands else {
            return deferred.fail(cmd, .unavailable)
        }
        switch commandLink.state {
        case .ready:
            guard let s = commandLink.session, write(cmd, on: s, at: now) else { return deferred.fail(cmd, .unavailable) }
        case .connecting:
            waiting.append(cmd)
        case .idle, .backoff, .closed:
            return deferred.fail(cmd, .unavailable)
        }
        deadlines.append(cmd)
        if !deadlineTimer.isArmed { deadlineTimer.schedule(at: cmd.deadline) }
    }

    private func write(_ cmd: RedisPendingCommand, on s: RedisSession, at now: NanoTime) -> Bool {
        guard s.send(cmd) else { return false }
        cmd.sentOn = s
        cmd.sentAt = now
        return true
    }

    private func deadlinesDue() {
        let now = EventLoop.now()
        var stalled: RedisSession?
        let expired = deadlines.popExpired(now: now)
        for cmd in expired {
            if let s = cmd.sentOn, s.lastReplyAt < cmd.sentAt { stalled = s }
            counters.timeouts += 1
            cmd.finish(.failure(.timeout))
        }
        // Commands that timed out waiting for the handshake must not hold queue slots.
        if !expired.isEmpty, !waiting.isEmpty { waiting.removeAll { $0.isFinished } }
        if let s = stalled, s === commandLink.session, commandLink.state == .ready {
            commandLink.drop(reason: "no reply within \(config.commandTimeout)")
        }
        if let next = deadlines.nextDeadline() { deadlineTimer.schedule(at: next) }
    }

    // MARK: Pub/sub

    /// Calls `onMessage` with the payload of every message published on `channel`, from the
    /// next successful (re)subscription on. Several handlers per channel are allowed; they
    /// live until `close()` (ignored on a closed client). `isSubscribed(channel:)` tells when
    /// Redis has confirmed the subscription.
    ///
    /// `onConfirmed` runs each time Redis confirms the subscription: the first time, and
    /// again after every reconnect (messages published in between were lost).
    public func subscribe(channel: String, onConfirmed: (() -> Void)? = nil, onMessage: @escaping ([UInt8]) -> Void) {
        guard !closed else { return }
        let isNew = handlers[channel] == nil
        handlers[channel, default: []].append(onMessage)
        if let onConfirmed { confirmHandlers[channel, default: []].append(onConfirmed) }
        let link: RedisLink
        if let l = pubsubLink {
            link = l
        } else {
            link = makeLink(selectsDatabase: false)
            pubsubLink = link
        }
        link.start()
        if isNew, link.state == .ready, let s = link.session { _ = s.subscribe([channel]) }
    }

    /// Whether Redis has confirmed the subscription to `channel` on the current connection.
    public func isSubscribed(channel: String) -> Bool { confirmedChannels.contains(channel) }

    // MARK: State and metrics

    /// Whether the command connection is up and past its handshake.
    public var isConnected: Bool { commandLink.state == .ready }

    /// Whether the pub/sub connection is up and past its handshake.
    public var isPubSubConnected: Bool { pubsubLink?.state == .ready }

    /// Commands written to Redis.
    public var commandsSent: UInt64 { counters.commandsSent }
    /// Commands failed with `.timeout`.
    public var timeouts: UInt64 { counters.timeouts }
    /// Connections dropped because the server broke the protocol (both connections).
    public var protocolErrors: UInt64 { counters.protocolErrors }
    /// Connection attempts after the first, over both connections.
    public var reconnects: UInt64 { commandLink.reconnects + (pubsubLink?.reconnects ?? 0) }
    /// Commands queued for the handshake or awaiting a reply.
    public var pendingCommands: Int { waiting.count + counters.inFlight }
    /// Why the command connection last failed (never contains the password).
    public var lastError: String? { commandLink.lastError ?? resolveError }
    /// Why the pub/sub connection last failed, if it exists.
    public var lastPubSubError: String? { pubsubLink?.lastError }

    /// Closes both connections. Pending commands fail with `.unavailable` on the next loop
    /// turn; later commands fail the same way. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        deadlineTimer?.cancel()
        handlers.removeAll()
        confirmHandlers.removeAll()
        confirmedChannels.removeAll()
        commandLink?.close()
        pubsubLink?.close()
        for cmd in waiting { deferred.fail(cmd, .unavailable) }
        waiting.removeAll()
        for cmd in deadlines.removeAll() { deferred.fail(cmd, .unavailable) }
    }

    private func makeLink(selectsDatabase: Bool) -> RedisLink {
        let link = RedisLink(loop: loop, addresses: addresses, unresolved: resolveError, config: config,
                             selectsDatabase: selectsDatabase, deferred: deferred, counters: counters)
        link.delegate = self
        return link
    }
}

extension RedisClient: RedisLinkDelegate {
    func linkReady(_ link: RedisLink, session: RedisSession) {
        if link === commandLink {
            let queued = waiting
            waiting.removeAll()
            let now = EventLoop.now()
            for cmd in queued where !cmd.isFinished {
                if !write(cmd, on: session, at: now) { deferred.fail(cmd, .unavailable) }
            }
        } else {
            confirmedChannels.removeAll()
            if !handlers.isEmpty { _ = session.subscribe(handlers.keys.sorted()) }
        }
    }

    func linkDown(_ link: RedisLink) {
        if link === commandLink {
            // Fail fast: nothing waits through a backoff period.
            let queued = waiting
            waiting.removeAll()
            for cmd in queued { deferred.fail(cmd, .unavailable) }
        } else {
            confirmedChannels.removeAll()
        }
    }

    func linkConfirmedSubscription(_ link: RedisLink, channel: String) {
        guard link === pubsubLink else { return }
        confirmedChannels.insert(channel)
        for h in confirmHandlers[channel] ?? [] { h() }
    }

    func linkReceivedMessage(_ link: RedisLink, channel: String, payload: [UInt8]) {
        guard link === pubsubLink, let hs = handlers[channel] else { return }
        for h in hs { h(payload) }
    }
}
