import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

/// Metrics and bookkeeping shared by a client and its sessions. Loop-confined.
final class RedisCounters {
    var commandsSent: UInt64 = 0
    var timeouts: UInt64 = 0
    /// Connections dropped because the server broke the protocol.
    var protocolErrors: UInt64 = 0
    /// Commands written whose reply has not arrived (or been given up on) yet.
    var inFlight = 0
}

/// One TCP connection to Redis, from connect until close: our own socket (a `Connection`),
/// hiredis' parser (`RedisReplyReader`) and our own reply dispatch (`RedisReplyRouter`).
///
/// hiredis' async context is deliberately not used: its dispatch `assert`s on an unsolicited
/// reply or a malformed pub/sub push, so a hostile or broken server could abort the whole
/// process. Here anything unexpected is a protocol error that ends this connection only.
///
/// Ownership: the link owns the session, the session owns its connection and reader. Once
/// closed, the session and its connection are kept until the next loop turn, because the
/// close may happen inside the connection's own callback.
final class RedisSession: ConnectionDelegate {
    let address: SocketAddress
    weak var link: RedisLink?
    let deferred: RedisDeferred
    let counters: RedisCounters
    private var connection: Connection?
    private let reader: RedisReplyReader
    private var router = RedisReplyRouter<RedisPendingCommand>()
    /// TCP connected (the handshake may still be running).
    private(set) var connected = false
    var handshakeRemaining = 0
    /// Last time any reply arrived: a timed-out command sent after it means a dead peer.
    private(set) var lastReplyAt: NanoTime

    private init(address: SocketAddress, connection: Connection, reader: RedisReplyReader, link: RedisLink,
                 deferred: RedisDeferred, counters: RedisCounters) {
        self.address = address
        self.connection = connection
        self.reader = reader
        self.link = link
        self.deferred = deferred
        self.counters = counters
        self.lastReplyAt = EventLoop.now()
        connection.delegate = self
    }

    /// Starts a non-blocking connect to `address`; the link hears `sessionConnected` or
    /// `sessionEnded`. Fails at once when the socket cannot even be started (e.g. no IPv6).
    static func connect(loop: EventLoop, to address: SocketAddress, maxReplyBytes: Int, link: RedisLink,
                        deferred: RedisDeferred, counters: RedisCounters) -> Result<RedisSession, ConnectFailure> {
        guard let reader = RedisReplyReader(maxReplyBytes: maxReplyBytes) else { return .failure(ConnectFailure(reason: "out of memory")) }
        // The link's connect timer bounds the connect: no bufferevent timeout.
        guard let c = Connection.connect(loop: loop, to: address, timeout: nil) else {
            let e = errno
            return .failure(ConnectFailure(reason: "connect failed: " + String(cString: strerror(e))))
        }
        return .success(RedisSession(address: address, connection: c, reader: reader, link: link,
                                     deferred: deferred, counters: counters))
    }

    deinit { connection?.delegate = nil }

    struct ConnectFailure: Error {
        let reason: String
    }

    var isAlive: Bool { connection != nil }

    /// Closes the socket. Commands awaiting a reply fail with `.unavailable` on the next loop
    /// turn. Idempotent; safe inside any callback.
    func close() {
        guard let c = connection else { return }
        connection = nil
        c.delegate = nil
        c.close()
        deferred.retainUntilNextTurn(c)
        deferred.retainUntilNextTurn(self)
        for command in router.removeAll() {
            counters.inFlight -= 1
            if !command.isFinished { deferred.fail(command, .unavailable) }
        }
    }

    // MARK: Writing

    /// Writes a handshake command (AUTH / SELECT / PING); its reply goes to the link.
    func sendHandshake(_ args: [String]) -> Bool {
        guard let bytes = RedisPendingCommand.encode(args.map(\.utf8)), write(bytes) else { return false }
        router.sent(.handshake)
        handshakeRemaining += 1
        return true
    }

    /// Writes a user command; its reply (or failure) finishes it.
    func send(_ command: RedisPendingCommand) -> Bool {
        guard !router.isSubscribed, write(command.bytes) else { return false }
        router.sent(.command(command))
        counters.inFlight += 1
        counters.commandsSent += 1
        return true
    }

    /// Writes SUBSCRIBE. From then on the connection carries only pub/sub pushes.
    func subscribe(_ channels: [String]) -> Bool {
        guard !channels.isEmpty, let bytes = RedisPendingCommand.encode((["SUBSCRIBE"] + channels).map(\.utf8)),
              write(bytes) else { return false }
        router.sent(.subscribe(channels))
        return true
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        guard let c = connection, connected else { return false }
        c.output.append(bytes)
        return true
    }

    // MARK: Connection events

    func connectionReadable(_ c: Connection) {
        guard c === connection else { return }
        let input = c.input
        let n = input.count
        var fed = true
        input.forEachSegment(length: n) { segment in
            if fed { fed = reader.feed(segment) }
        }
        input.drain(n)
        while isAlive {
            switch reader.next() {
            case .needMore:
                return
            case .failed(let why):
                protocolError(why)
                return
            case .reply(let reply):
                lastReplyAt = EventLoop.now()
                dispatch(router.route(reply))
            }
        }
    }

    private func dispatch(_ routed: RedisReplyRouter<RedisPendingCommand>.Routed) {
        switch routed {
        case .handshake(let reply):
            link?.handshakeReplied(self, .success(reply))
        case .command(let command, let reply):
            counters.inFlight -= 1
            command.finish(.success(reply))  // a no-op if it timed out already: the late reply is dropped
        case .subscribed(let channel):
            link?.subscriptionConfirmed(self, channel: channel)
        case .message(let channel, let payload):
            link?.messageReceived(self, channel: channel, payload: payload)
        case .violation(let why):
            protocolError(why)
        }
    }

    private func protocolError(_ why: String) {
        counters.protocolErrors += 1
        link?.sessionFailed(self, reason: "protocol error: \(why)")
    }

    func connectionWritable(_ c: Connection) {}

    func connection(_ c: Connection, event: ConnectionEvent) {
        guard c === connection else { return }
        switch event {
        case .connected:
            connected = true
            c.enableReading()
            link?.sessionConnected(self)
        case .endOfStream, .error, .readTimeout, .writeTimeout, .tlsFailure:
            let why: String
            switch event {
            case .error(let e): why = String(cString: strerror(e))
            case .endOfStream: why = "closed by the server"
            case .tlsFailure(let reason): why = reason
            default: why = "timed out"
            }
            let wasConnected = connected
            close()
            link?.sessionEnded(self, reason: wasConnected ? "disconnected: \(why)" : "connect failed: \(why)")
        }
    }
}
