#if canImport(Glibc)
import Glibc
#endif
import StreamgateCore
@testable import StreamgateIO
import Testing

/// A connection reports a read timeout only while its owner still has one set. Over
/// socketpairs, no gateway.
@Suite struct ConnectionTimeoutTests {
    final class Recorder: ConnectionDelegate {
        var events: [ConnectionEvent] = []
        func connectionReadable(_ connection: Connection) {}
        func connectionWritable(_ connection: Connection) {}
        func connection(_ connection: Connection, event: ConnectionEvent) { events.append(event) }
    }

    /// A reading connection with a read timeout, on one end of a socketpair (the other end
    /// stays open and silent).
    final class Silent {
        let connection: Connection
        let theirs: Int32
        let recorder = Recorder()

        init(loop: EventLoop, timeout: Duration) {
            var fds: [Int32] = [-1, -1]
            let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
            precondition(rc == 0, "socketpair: \(errno)")
            theirs = fds[1]
            connection = Connection(loop: loop, fd: fds[0])
            connection.delegate = recorder
            connection.setTimeouts(read: timeout, write: nil)
            connection.enableReading()
        }

        func close() {
            connection.close()
            Glibc.close(theirs)
        }
    }

    /// The race a client connection meets at `header_timeout`: its head deadline and its read
    /// timeout fall due in one loop turn, and the callback that runs first withdraws the read
    /// timeout. libevent still runs the other's callback (only re-arming with a new timeout
    /// cancels a due one); the connection must not report it.
    @Test func aReadTimeoutWithdrawnInTheTurnItFellDueIsNotReported() {
        let driver = RedisLoopDriver()
        let withdrawn = Silent(loop: driver.loop, timeout: .milliseconds(6))
        let kept = Silent(loop: driver.loop, timeout: .milliseconds(6))
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
