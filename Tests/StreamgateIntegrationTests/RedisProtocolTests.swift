@testable import StreamgateIO
import Testing

/// The pure pieces of the Redis client: RESP encoding, the bounded reader, and the rules
/// that match replies to what was sent. No sockets.
@Suite("RedisProtocol")
struct RedisProtocolTests {
    typealias Router = RedisReplyRouter<Int>

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    private func push(_ kind: String, _ channel: String, _ last: RedisReply) -> RedisReply {
        .array([.string(bytes(kind)), .string(bytes(channel)), last])
    }
    private func violation(_ r: Router.Routed) -> String? { if case .violation(let why) = r { why } else { nil } }
    private func command(_ r: Router.Routed) -> (Int, RedisReply)? { if case .command(let c, let v) = r { (c, v) } else { nil } }

    // MARK: Encoding

    @Test func commandsAreEncodedAsArraysOfBulkStrings() {
        #expect(RedisPendingCommand.encode(["SET", "k", "v"].map(\.utf8)) == bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"))
        #expect(RedisPendingCommand.encode([bytes("GET"), [0, 13, 10, 255], []]) == bytes("*3\r\n$3\r\nGET\r\n$4\r\n") + [0, 13, 10, 255] + bytes("\r\n$0\r\n\r\n"))
        #expect(RedisPendingCommand.encode([[UInt8]]()) == nil)
    }

    // MARK: Reader

    private func readAll(_ reader: RedisReplyReader) -> [RedisReplyReader.Next] {
        var out: [RedisReplyReader.Next] = []
        while true {
            let n = reader.next()
            out.append(n)
            if case .reply = n { continue }
            return out
        }
    }

    @Test func readerAssemblesRepliesFedByteByByte() throws {
        let reader = try #require(RedisReplyReader(maxReplyBytes: 1024))
        let wire = bytes("+OK\r\n$5\r\nhe\r\no\r\n*2\r\n:7\r\n$-1\r\n-ERR no\r\n")
        var got: [RedisReply] = []
        for b in wire {
            [b].withUnsafeBytes { _ = reader.feed($0) }
            for case .reply(let r) in readAll(reader) { got.append(r) }
        }
        #expect(got == [.status("OK"), .string(bytes("he\r\no")), .array([.integer(7), .null]), .error("ERR no")])
        #expect(reader.next() == .needMore)
    }

    @Test func readerRefusesAReplyOverItsBound() throws {
        let reader = try #require(RedisReplyReader(maxReplyBytes: 100))
        // A complete reply just under the bound passes; one over it fails before it is whole.
        let fits = RESP.bulk([UInt8](repeating: 65, count: 90))
        fits.withUnsafeBytes { _ = reader.feed($0) }
        #expect(reader.next() == .reply(.string([UInt8](repeating: 65, count: 90))))
        let big = Array(RESP.bulk([UInt8](repeating: 66, count: 1000)).prefix(150))
        big.withUnsafeBytes { _ = reader.feed($0) }
        guard case .failed(let why) = reader.next() else { Issue.record("an oversized reply was accepted"); return }
        #expect(why.contains("exceeds 100 bytes"))
    }

    @Test func readerRefusesAnArrayHeaderNoReplyOfItsSizeCouldFill() throws {
        let reader = try #require(RedisReplyReader(maxReplyBytes: 1 << 20))
        // hiredis 0.14 would allocate 16 GB for this element table before any element arrives.
        bytes("*2000000000\r\n").withUnsafeBytes { _ = reader.feed($0) }
        guard case .failed(let why) = reader.next() else { Issue.record("the array header was accepted"); return }
        #expect(why.contains("more elements"))
    }

    @Test func readerReportsProtocolErrors() throws {
        let reader = try #require(RedisReplyReader(maxReplyBytes: 1024))
        bytes("?what\r\n").withUnsafeBytes { _ = reader.feed($0) }
        guard case .failed = reader.next() else { Issue.record("garbage was parsed"); return }
        #expect(!bytes("+OK\r\n").withUnsafeBytes { reader.feed($0) }, "a failed reader takes no more input")
    }

    // MARK: Routing

    @Test func repliesFollowCommandOrder() {
        var router = Router()
        router.sent(.handshake)
        router.sent(.command(1))
        router.sent(.command(2))
        #expect(router.owed == 3)
        guard case .handshake(.status("PONG")) = router.route(.status("PONG")) else { Issue.record("handshake"); return }
        #expect(command(router.route(.integer(5)))?.0 == 1)
        #expect(command(router.route(.error("WRONGTYPE x")))?.0 == 2, "an error reply answers its command")
        #expect(router.owed == 0)
    }

    @Test func aReplyNobodyAskedForIsAViolation() {
        var router = Router()
        #expect(violation(router.route(.status("OK"))) == "unsolicited reply")
        #expect(violation(router.route(.error("ERR max number of clients reached")))?.contains("max number of clients") == true)
        router.sent(.command(1))
        _ = router.route(.integer(1))
        #expect(violation(router.route(.integer(2))) != nil, "one reply per command")
    }

    @Test func subscriptionConfirmationsAndMessages() {
        var router = Router()
        router.sent(.handshake)
        router.sent(.subscribe(["a", "b"]))
        #expect(router.isSubscribed)
        // The handshake reply still comes first.
        guard case .handshake = router.route(.status("PONG")) else { Issue.record("handshake first"); return }
        guard case .subscribed(channel: "a") = router.route(push("subscribe", "a", .integer(1))) else { Issue.record("a"); return }
        guard case .message(channel: "a", payload: let p) = router.route(push("message", "a", .string(bytes("x")))) else {
            Issue.record("message on a")
            return
        }
        #expect(p == bytes("x"))
        guard case .subscribed(channel: "b") = router.route(push("subscribe", "b", .integer(2))) else { Issue.record("b"); return }
        #expect(router.owed == 0)
        guard case .message(channel: "b", payload: let empty) = router.route(push("message", "b", .string([]))) else {
            Issue.record("message on b")
            return
        }
        #expect(empty.isEmpty)
    }

    /// Each of these made hiredis 0.14's async dispatch assert (abort the process) or
    /// silently lose the subscription; each is a violation here.
    @Test func malformedPushesAreViolations() {
        let malformed: [(String, RedisReply)] = [
            ("1-element message", .array([.string(bytes("message"))])),
            ("2-element message", .array([.string(bytes("message")), .string(bytes("a"))])),
            ("4-element message", .array([.string(bytes("message")), .string(bytes("a")), .string([]), .string([])])),
            ("kind not a string", .array([.integer(1), .string(bytes("a")), .string(bytes("x"))])),
            ("channel not a string", .array([.string(bytes("message")), .integer(1), .string(bytes("x"))])),
            ("payload not a string", push("message", "a", .array([]))),
            ("unsubscribe with a bulk count", push("unsubscribe", "a", .string(bytes("x")))),
            ("unknown kind", push("pmessage", "a", .string(bytes("x")))),
            ("message on another channel", push("message", "zzz", .string(bytes("x")))),
            ("status reply", .status("OK")),
            ("integer reply", .integer(1)),
            ("nil reply", .null),
            ("empty array", .array([])),
            ("error reply", .error("NOPERM no permissions to access a channel")),
        ]
        for (name, reply) in malformed {
            var router = Router()
            router.sent(.subscribe(["a"]))
            _ = router.route(push("subscribe", "a", .integer(1)))
            #expect(violation(router.route(reply)) != nil, "\(name)")
        }
    }

    @Test func wrongAnswersToSubscribeAreViolations() {
        let answers: [(String, RedisReply)] = [
            ("+OK", .status("OK")),
            (":1", .integer(1)),
            ("confirmation of another channel", push("subscribe", "b", .integer(1))),
            ("confirmation without a count", push("subscribe", "a", .string(bytes("1")))),
            ("message before any subscription", push("message", "b", .string(bytes("x")))),
        ]
        for (name, reply) in answers {
            var router = Router()
            router.sent(.subscribe(["a"]))
            #expect(violation(router.route(reply)) != nil, "\(name)")
        }
    }

    @Test func removeAllReturnsTheCommandsStillOwed() {
        var router = Router()
        router.sent(.handshake)
        for i in 1...3 { router.sent(.command(i)) }
        _ = router.route(.status("PONG"))
        _ = router.route(.integer(0))
        #expect(router.removeAll() == [2, 3])
        #expect(router.owed == 0)
        #expect(violation(router.route(.integer(0))) != nil)
    }

    @Test func aLongPipelineDoesNotGrowWithoutBound() {
        // Always one command ahead, so the queue never empties: it must compact as it goes.
        var router = Router()
        router.sent(.command(0))
        var outOfOrder = 0
        for i in 1...10_000 {
            router.sent(.command(i))
            if command(router.route(.integer(Int64(i))))?.0 != i - 1 { outOfOrder += 1 }
        }
        #expect(outOfOrder == 0)
        #expect(router.owed == 1)
    }
}
