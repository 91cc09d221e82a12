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

    // The read timer is lazy (`Connection.startReadPeriod`): these pin what it must still do.
    // Lower bounds only where a bound is about time: a loaded machine can only make a timer
    // late, never early.

    /// Reads start the period again: a peer that keeps talking is not timed out, and the
    /// timeout comes a full period after its last bytes, not after the first arm.
    @Test func readsPostponeTheReadTimeout() {
        let driver = RedisLoopDriver()
        let pair = Self.silent(driver.loop, timeout: .milliseconds(150))
        defer { pair.close() }
        var lastRead = EventLoop.now()
        pair.recorder.onReadable = {
            pair.connection.input.drain(pair.connection.inputCount)
            lastRead = EventLoop.now()
        }
        var sent = 0
        var talk: LoopTimer?
        talk = LoopTimer(loop: driver.loop) {
            pair.peerSends("x")
            sent += 1
            if sent < 4 { talk?.schedule(after: .milliseconds(80)) }
        }
        talk?.schedule(after: .milliseconds(80))
        #expect(driver.run { !pair.recorder.events.isEmpty })
        let timedOutAt = EventLoop.now()
        #expect(pair.recorder.readable == 4, "every byte was read before the timeout")
        #expect(pair.recorder.events == [.readTimeout])
        #expect(timedOutAt.nanoseconds(since: lastRead) >= 149_000_000, "a full period after the last read")
    }

    /// A timeout set again with a longer duration while the timer is pending for the shorter
    /// one is reported after the longer one (the timer fires early and is scheduled again).
    @Test func aLongerTimeoutSetLaterIsHonoured() {
        let driver = RedisLoopDriver()
        let pair = Self.silent(driver.loop, timeout: .milliseconds(50))
        defer { pair.close() }
        let start = EventLoop.now()
        pair.connection.setTimeouts(read: .milliseconds(250), write: nil)
        #expect(driver.run { !pair.recorder.events.isEmpty })
        #expect(pair.recorder.events == [.readTimeout])
        #expect(EventLoop.now().nanoseconds(since: start) >= 249_000_000)
    }

    /// A shorter timeout set later is not held back by the timer pending for the longer one.
    @Test func aShorterTimeoutSetLaterIsReportedAtItsOwnDeadline() {
        let driver = RedisLoopDriver()
        let pair = Self.silent(driver.loop, timeout: .seconds(30))
        defer { pair.close() }
        pair.connection.setTimeouts(read: .milliseconds(40), write: nil)
        #expect(driver.run(timeout: .seconds(10)) { !pair.recorder.events.isEmpty }, "long before the 30 s one")
        #expect(pair.recorder.events == [.readTimeout])
    }

    /// A withdrawn timeout leaves its timer pending; when it fires it reports nothing and lets
    /// go of the timer (a quiet connection keeps no timer it does not need).
    @Test func aWithdrawnTimeoutIsNotReportedAndItsTimerIsLetGo() {
        let driver = RedisLoopDriver()
        let pair = Self.silent(driver.loop, timeout: .milliseconds(20))
        defer { pair.close() }
        #expect(pair.connection.hasReadTimer)
        pair.connection.setTimeouts(read: nil, write: nil)
        #expect(driver.run { !pair.connection.hasReadTimer }, "the timer fired and was let go")
        #expect(pair.recorder.events.isEmpty)
        #expect(pair.connection.isOpen && pair.connection.isReading)
        // Set again, it is made again and works.
        pair.connection.setTimeouts(read: .milliseconds(20), write: nil)
        #expect(driver.run { !pair.recorder.events.isEmpty })
        #expect(pair.recorder.events == [.readTimeout])
    }
}
