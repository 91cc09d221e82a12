/// Says what each reply on one connection answers, by the RESP2 rules
/// (https://redis.io/docs/latest/develop/reference/protocol-spec/): replies come back in
/// command order, and once SUBSCRIBE is sent the connection carries only pushes, 3-element
/// arrays: `["subscribe", channel, count]` for each channel asked for, in order, then
/// `["message", channel, payload]`.
///
/// Anything else is a protocol violation: a reply nothing asked for, a push of another shape
/// or kind, a message on a channel never subscribed to. The session drops the connection for
/// it (hiredis' async layer would `assert` on several of these and abort the process).
///
/// Pure bookkeeping, no I/O: unit-tested reply by reply.
struct RedisReplyRouter<Command> {
    /// What was written, in order.
    enum Sent {
        case handshake
        case command(Command)
        /// SUBSCRIBE with these channels. No command may follow it on the connection.
        case subscribe([String])
    }

    enum Routed {
        case handshake(RedisReply)
        case command(Command, RedisReply)
        case subscribed(channel: String)
        case message(channel: String, payload: [UInt8])
        case violation(String)
    }

    private enum Awaited {
        case handshake
        case command(Command)
    }

    /// Handshakes and commands awaiting their reply, oldest first from `head`.
    private var awaiting: [Awaited] = []
    private var head = 0
    /// Channels asked for and not yet confirmed, in the order Redis confirms them.
    private var unconfirmed: [[UInt8]] = []
    private var unconfirmedHead = 0
    /// Channels asked for (confirmed or not): messages may arrive on these only.
    private var channels: Set<[UInt8]> = []
    /// SUBSCRIBE was sent: from now on only pushes may arrive (after the replies awaited).
    private(set) var isSubscribed = false

    init() {}

    /// Replies still owed (handshakes, commands and subscription confirmations).
    var owed: Int { awaiting.count - head + unconfirmed.count - unconfirmedHead }

    mutating func sent(_ s: Sent) {
        switch s {
        case .subscribe(let names):
            isSubscribed = true
            for name in names {
                let bytes = Array(name.utf8)
                unconfirmed.append(bytes)
                channels.insert(bytes)
            }
        case .handshake:
            precondition(!isSubscribed, "RESP2: a subscribed connection runs no other command")
            awaiting.append(.handshake)
        case .command(let c):
            precondition(!isSubscribed, "RESP2: a subscribed connection runs no other command")
            awaiting.append(.command(c))
        }
    }

    /// Matches one reply. After `.violation` the connection must be dropped.
    mutating func route(_ reply: RedisReply) -> Routed {
        if head < awaiting.count {
            let awaited = awaiting[head]
            head += 1
            if head == awaiting.count {
                awaiting.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 256, head * 2 > awaiting.count {
                awaiting.removeFirst(head)  // a connection that never drains must not grow
                head = 0
            }
            switch awaited {
            case .handshake: return .handshake(reply)
            case .command(let c): return .command(c, reply)
            }
        }
        guard isSubscribed else {
            // A server that refuses a new client (max clients, loading) says why and closes:
            // keep its words.
            if case .error(let message) = reply {
                return .violation("unsolicited error reply: \(message.prefix(200))")
            }
            return .violation("unsolicited reply")
        }
        return routePush(reply)
    }

    private mutating func routePush(_ reply: RedisReply) -> Routed {
        if case .error(let message) = reply {
            return .violation("error reply on the pub/sub connection: \(message.prefix(200))")
        }
        guard case .array(let parts) = reply, parts.count == 3,
              case .string(let kind) = parts[0], case .string(let channel) = parts[1] else {
            return .violation("pub/sub push is not a 3-element array of kind and channel")
        }
        switch kind {
        case Array("message".utf8):
            guard case .string(let payload) = parts[2] else { return .violation("pub/sub message payload is not a bulk string") }
            guard channels.contains(channel) else { return .violation("pub/sub message on a channel never subscribed to") }
            return .message(channel: String(decoding: channel, as: UTF8.self), payload: payload)
        case Array("subscribe".utf8):
            guard case .integer = parts[2] else { return .violation("subscribe confirmation without a count") }
            guard unconfirmedHead < unconfirmed.count, unconfirmed[unconfirmedHead] == channel else {
                return .violation("subscribe confirmation for a channel not asked for")
            }
            unconfirmedHead += 1
            if unconfirmedHead == unconfirmed.count {
                unconfirmed.removeAll(keepingCapacity: true)
                unconfirmedHead = 0
            }
            return .subscribed(channel: String(decoding: channel, as: UTF8.self))
        default:
            return .violation("unexpected pub/sub push kind")
        }
    }

    /// Forgets everything owed; returns the commands that will never get their reply.
    mutating func removeAll() -> [Command] {
        var out: [Command] = []
        for s in awaiting[head...] { if case .command(let c) = s { out.append(c) } }
        awaiting.removeAll()
        head = 0
        unconfirmed.removeAll()
        unconfirmedHead = 0
        channels.removeAll()
        isSubscribed = false
        return out
    }
}
