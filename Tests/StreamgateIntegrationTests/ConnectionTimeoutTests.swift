#if canImport(Glibc)
import Glibc
#endif
import StreamgateCore
@testable import StreamgateIO
import Testing

/// A connection reports a read timeout only while its owner still has one set. Over
/// socketpairs, no gateway.
@Suite struct ConnectionTimeoutTests {
    /// A reading connection with a read timeout; its peer stays open and silent.
    static func silent(_ loop: EventLoop, timeout: Duration) -> SocketPairConnection {
        let pair = SocketPairConnection(loop: loop)
        pair.connection.setTimeouts(read: timeout, write: nil)
        pair.connection.enableReading()
        return pair
    }

    /// The race a client connection meets at `header_timeout`: its head deadline and its read
    /// timeout fall due in one loop turn, and the callback that runs first withdraws the read
    /// timeout. libevent still runs the other's callback (only re-arming with a new timeout
    /// cancels a due one); the connection must not report it.
    @Test func aReadTimeoutWithdrawnInTheTurnItFellDueIsNotReported() {
        let driver = RedisLoopDriver()
        let withdrawn = Self.silent(driver.loop, timeout: .milliseconds(6))
        let kept = Self.silent(driver.loop, timeout: .milliseconds(6))
        defer { withdrawn.close(); kept.close() }
        // Due a millisecond earlier, so it runs first in the turn where all three are due.
        let withdraw = LoopTimer(loop: driver.loop) { withdrawn.connection.setTimeouts(read: nil, write: nil) }
        withdraw.schedule(after: .milliseconds(5))
        #expect(driver.runAfterDeadlinesPass(idle: 30_000, then: .milliseconds(60)))
        #expect(kept.recorder.events == [.readTimeout], "the control: a timeout left in place is reported")
        #expect(withdrawn.recorder.events.isEmpty, "withdrawn before its callback: not reported (\(withdrawn.recorder.events))")
        #expect(withdrawn.connection.isOpen && withdrawn.connection.isReading)
    }

    /// The same for a write timeout (a send timeout, or the connect timeout): output the peer
    /// does not read waits, its timeout falls due, and a callback earlier in the turn
    /// withdraws it.
    @Test func aWriteTimeoutWithdrawnInTheTurnItFellDueIsNotReported() {
        let driver = RedisLoopDriver()
        let withdrawn = SocketPairConnection(loop: driver.loop), kept = SocketPairConnection(loop: driver.loop)
        defer { withdrawn.close(); kept.close() }
        let payload = [UInt8](repeating: 0x61, count: 8 << 20)
        for pair in [withdrawn, kept] {
            pair.connection.setTimeouts(read: nil, write: .milliseconds(20))
            #expect(pair.connection.write(payload) > 0, "more than the socket takes: the rest waits")
        }
        // One turn: the queued output is flushed as far as it goes and the write events (with
        // their timeouts) are armed.
        #expect(driver.runOneTurn())
        #expect(withdrawn.connection.outputCount > 0 && kept.connection.outputCount > 0)
        let withdraw = LoopTimer(loop: driver.loop) { withdrawn.connection.setTimeouts(read: nil, write: nil) }
        withdraw.schedule(after: .milliseconds(1))
        #expect(driver.runAfterDeadlinesPass(idle: 60_000, then: .milliseconds(60)))
        #expect(kept.recorder.events == [.writeTimeout], "the control: a timeout left in place is reported")
        #expect(withdrawn.recorder.events.isEmpty, "withdrawn before its callback: not reported (\(withdrawn.recorder.events))")
        #expect(withdrawn.connection.outputCount > 0, "its output still waits")
    }
}
