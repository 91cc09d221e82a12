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
        // Not a wait for an event: time passing with the loop stopped is what puts all three
        // deadlines in one turn.
        usleep(30_000)
        var done = false
        let end = LoopTimer(loop: driver.loop) { done = true }
        end.schedule(after: .milliseconds(60))
        #expect(driver.run { done })
        #expect(kept.recorder.events == [.readTimeout], "the control: a timeout left in place is reported")
        #expect(withdrawn.recorder.events.isEmpty, "withdrawn before its callback: not reported (\(withdrawn.recorder.events))")
        #expect(withdrawn.connection.isOpen && withdrawn.connection.isReading)
    }
}
