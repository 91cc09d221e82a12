import StreamgateCore

/// One command from `command()` until its completion has run.
///
/// Three parties may try to finish it: the hiredis reply callback, the deadline timer and
/// the failure paths (disconnect, close). Whoever comes first wins; the others find
/// `completion == nil` and do nothing. That is what makes "exactly once" hold.
final class RedisPendingCommand {
    /// All arguments back to back, and where each ends: kept until the command is written,
    /// because it may wait for the handshake first.
    let bytes: [UInt8]
    let lengths: [Int]
    let deadline: NanoTime
    private var completion: ((RedisResult) -> Void)?
    /// The hiredis context it was written to, if any: the deadline timer uses it to tell a
    /// slow command from a dead connection.
    var sentOn: RedisSession?
    var sentAt: NanoTime = .zero

    init(bytes: [UInt8], lengths: [Int], deadline: NanoTime, completion: @escaping (RedisResult) -> Void) {
        self.bytes = bytes
        self.lengths = lengths
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

    /// Flattens arguments into one buffer; `nil` for an empty command.
    static func encode<S: Sequence>(_ args: S) -> (bytes: [UInt8], lengths: [Int])? where S.Element: Sequence<UInt8> {
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        for a in args {
            let before = bytes.count
            bytes.append(contentsOf: a)
            lengths.append(bytes.count - before)
        }
        // A trailing NUL (not part of any argument) guarantees a non-nil base address.
        bytes.append(0)
        return lengths.isEmpty ? nil : (bytes, lengths)
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
