internal import CHiredis
import StreamgateCore

/// Metrics and bookkeeping shared by a client and its sessions. Loop-confined.
final class RedisCounters {
    var commandsSent: UInt64 = 0
    var timeouts: UInt64 = 0
    /// Commands written to hiredis whose callback has not run yet.
    var inFlight = 0
}

/// One hiredis async context, from `redisAsyncConnect` until hiredis frees it.
///
/// Ownership: `ac->data` holds a +1 reference to this object so C callbacks can find it.
/// hiredis frees the context by itself after a failed connect callback and after the
/// disconnect callback, and it still runs reply callbacks (with NULL) while it unwinds; so
/// that reference is handed to `RedisDeferred` and dropped on the next loop turn, never
/// while hiredis may still read `ac->data`. `ac` becomes `nil` the moment the context is
/// known to be going away, which is what keeps us from freeing it twice.
final class RedisSession {
    private(set) var ac: UnsafeMutablePointer<redisAsyncContext>?
    weak var link: RedisLink?
    let deferred: RedisDeferred
    let counters: RedisCounters
    /// Set by the connect callback; the handshake may complete only after it.
    var connected = false
    var handshakeRemaining = 0
    /// Last time any reply arrived: a timed-out command sent after it means a dead peer.
    var lastReplyAt: NanoTime

    init(ac: UnsafeMutablePointer<redisAsyncContext>, link: RedisLink, deferred: RedisDeferred, counters: RedisCounters) {
        self.ac = ac
        self.link = link
        self.deferred = deferred
        self.counters = counters
        self.lastReplyAt = EventLoop.now()
        ac.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    var isAlive: Bool { ac != nil }

    /// The context is being freed by hiredis (or by us, right now): forget it and release
    /// the context's reference to us once the current call stack has unwound.
    func contextEnded() {
        guard ac != nil else { return }
        ac = nil
        deferred.retainUntilNextTurn(self)
        Unmanaged.passUnretained(self).release()
    }

    /// Frees the context on our initiative (timeout, handshake failure, close). Safe inside a
    /// reply callback: hiredis then defers the free until the callback returns. Never called
    /// from the connect or disconnect callbacks: `contextEnded()` has cleared `ac` by then.
    func free() {
        guard let ac else { return }
        contextEnded()
        redisAsyncFree(ac)
    }

    static func session(_ ac: UnsafePointer<redisAsyncContext>?) -> RedisSession? {
        guard let data = ac?.pointee.data else { return nil }
        return Unmanaged<RedisSession>.fromOpaque(data).takeUnretainedValue()
    }

    static func errorText(_ ac: UnsafePointer<redisAsyncContext>) -> String {
        guard ac.pointee.err != 0, let s = ac.pointee.errstr else { return "connection closed" }
        return String(cString: s)
    }

    // MARK: Writing commands

    /// Writes a handshake command (AUTH / SELECT / PING); its reply goes to the link.
    func sendHandshake(_ args: [String]) -> Bool {
        guard let ac, let enc = RedisPendingCommand.encode(args.map(\.utf8)) else { return false }
        let rc = Self.withArgv(enc.bytes, enc.lengths) { argc, argv, lens in
            redisAsyncCommandArgv(ac, { ac, reply, _ in RedisSession.handshakeReplied(ac, reply) }, nil, argc, argv, lens)
        }
        if rc == REDIS_OK { handshakeRemaining += 1 }
        return rc == REDIS_OK
    }

    /// Writes a user command. hiredis calls the reply callback exactly once per accepted
    /// command (with NULL when the context goes away), which balances the retain here.
    func send(_ command: RedisPendingCommand) -> Bool {
        guard let ac else { return false }
        let token = Unmanaged.passRetained(command).toOpaque()
        let rc = Self.withArgv(command.bytes, command.lengths) { argc, argv, lens in
            redisAsyncCommandArgv(ac, { ac, reply, token in RedisSession.commandReplied(ac, reply, token) }, token, argc, argv, lens)
        }
        guard rc == REDIS_OK else {
            Unmanaged<RedisPendingCommand>.fromOpaque(token).release()
            return false
        }
        counters.inFlight += 1
        counters.commandsSent += 1
        return true
    }

    /// Writes SUBSCRIBE. hiredis keeps the callback per channel and calls it for the
    /// confirmation and for every message, so it carries no per-call state.
    func subscribe(_ channels: [String]) -> Bool {
        guard let ac, !channels.isEmpty, let enc = RedisPendingCommand.encode((["SUBSCRIBE"] + channels).map(\.utf8)) else { return false }
        let rc = Self.withArgv(enc.bytes, enc.lengths) { argc, argv, lens in
            redisAsyncCommandArgv(ac, { ac, reply, _ in RedisSession.pushReceived(ac, reply) }, nil, argc, argv, lens)
        }
        return rc == REDIS_OK
    }

    /// Builds the C argv over one flat buffer; hiredis copies it before returning.
    private static func withArgv<R>(
        _ bytes: [UInt8], _ lengths: [Int],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        bytes.withUnsafeBufferPointer { buf in
            lengths.withUnsafeBufferPointer { lens in
                withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: lengths.count) { argv in
                    // `encode` always leaves a trailing byte, so the base address exists even
                    // when every argument is empty.
                    let base = UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self)
                    var offset = 0
                    for (i, n) in lengths.enumerated() {
                        argv[i] = base + offset
                        offset += n
                    }
                    return body(Int32(lengths.count), argv.baseAddress!, lens.baseAddress!)
                }
            }
        }
    }

    // MARK: C callbacks (each recovers the session from `ac->data`)

    static func connected(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
        guard let ac, let s = session(ac) else { return }
        if status == REDIS_OK {
            s.connected = true
            s.link?.sessionConnected(s)
        } else {
            // hiredis frees the context right after this callback returns.
            let why = errorText(ac)
            s.contextEnded()
            s.link?.sessionEnded(s, reason: "connect failed: \(why)")
        }
    }

    static func disconnected(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
        guard let ac, let s = session(ac) else { return }
        let why = status == REDIS_OK ? "disconnected" : "disconnected: \(errorText(ac))"
        s.contextEnded()
        s.link?.sessionEnded(s, reason: why)
    }

    private static func handshakeReplied(_ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?) {
        // NULL: the context is going away; the connect/disconnect path handles that.
        guard let reply, let s = session(ac) else { return }
        s.lastReplyAt = EventLoop.now()
        s.link?.handshakeReplied(s, RedisReply.decode(reply.assumingMemoryBound(to: redisReply.self)))
    }

    private static func commandReplied(_ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?, _ token: UnsafeMutableRawPointer?) {
        guard let token else { return }
        let command = Unmanaged<RedisPendingCommand>.fromOpaque(token).takeRetainedValue()
        let s = session(ac)
        s?.counters.inFlight -= 1
        guard let reply else {
            // Disconnect or free: fail on the next turn, outside hiredis's teardown.
            if !command.isFinished { s?.deferred.fail(command, .unavailable) }
            return
        }
        s?.lastReplyAt = EventLoop.now()
        guard !command.isFinished else { return }  // timed out already: drop the late reply
        command.finish(RedisReply.decode(reply.assumingMemoryBound(to: redisReply.self)))
    }

    private static func pushReceived(_ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?) {
        guard let reply, let s = session(ac) else { return }
        s.lastReplyAt = EventLoop.now()
        guard case .success(let value) = RedisReply.decode(reply.assumingMemoryBound(to: redisReply.self)) else { return }
        s.link?.pushReceived(s, value)
    }
}
