import StreamgateCore

/// One command from `command()` until its completion has run.
///
/// Three parties may try to finish it: the reply dispatch, the deadline timer and
/// the failure paths (disconnect, close). Whoever comes first wins; the others find
/// `completion == nil` and do nothing. That is what makes "exactly once" hold.
final class RedisPendingCommand {
    /// The command as RESP, ready to write. Kept until then: it may wait for the handshake.
    let bytes: [UInt8]
    let deadline: NanoTime
    private var completion: ((RedisResult) -> Void)?
    /// The connection it was written to, if any: the deadline timer uses it to tell a
    /// slow command from a dead connection.
    var sentOn: RedisSession?
    var sentAt: NanoTime = .zero

    init(bytes: [UInt8], deadline: NanoTime, completion: @escaping (RedisResult) -> Void) {
        self.bytes = bytes
        self.deadline = deadline
        self.completion = completion
    }

    var isFinished: Bool { completion == nil }

    func finish(_ result: RedisResult) {
        guard let c = completion else { return }
        completion = nil
        sentOn = nil
        c(result)
    }

    /// Encodes a command the way Redis expects clients to send one: a RESP array of bulk
    /// strings, `*<argc>\r\n` then `$<length>\r\n<bytes>\r\n` per argument (binary-safe;
    /// https://redis.io/docs/latest/develop/reference/protocol-spec/). nil for no arguments.
    static func encode<C: Collection>(_ args: C) -> [UInt8]? where C.Element: Collection<UInt8> {
        guard !args.isEmpty else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(16 + args.reduce(0) { $0 + $1.count + 16 })
        func line(_ prefix: Character, _ n: Int) {
            out.append(prefix.asciiValue!)
            out.append(contentsOf: String(n).utf8)
            out.append(contentsOf: [13, 10])
        }
        line("*", args.count)
        for a in args {
            line("$", a.count)
            out.append(contentsOf: a)
            out.append(contentsOf: [13, 10])
        }
        return out
    }
}

/// Pending commands in issue order. Every command gets the same timeout, so deadlines are
/// monotonic in issue order and one timer armed for the head covers all of them
/// (libevent's "common timeout" idea) instead of one libevent event per command.
struct RedisDeadlineQueue {
    private var items: [RedisPendingCommand] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    mutating func append(_ c: RedisPendingCommand) { items.append(c) }

    /// The earliest deadline still relevant, after dropping finished commands at the head.
    mutating func nextDeadline() -> NanoTime? {
        while head < items.count, items[head].isFinished { head += 1 }
        compactIfNeeded()
        return head < items.count ? items[head].deadline : nil
    }

    /// Removes and returns the unfinished commands whose deadline is at or before `now`.
    mutating func popExpired(now: NanoTime) -> [RedisPendingCommand] {
        var out: [RedisPendingCommand] = []
        while head < items.count {
            let c = items[head]
            if c.isFinished { head += 1; continue }
            if c.deadline > now { break }
            out.append(c)
            head += 1
        }
        compactIfNeeded()
        return out
    }

    mutating func removeAll() -> [RedisPendingCommand] {
        let out = Array(items[head...])
        items.removeAll()
        head = 0
        return out
    }

    private mutating func compactIfNeeded() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 256, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
