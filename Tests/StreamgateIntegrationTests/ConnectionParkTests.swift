#if canImport(Glibc)
import Glibc
#endif
import StreamgateCore
@testable import StreamgateIO
import Testing

/// A parked connection (an idle pooled upstream, `Connection.park`) must never be taken back
/// while its peer has said something since the last read: those bytes would be read as the
/// next exchange's response. Two mechanisms keep that true, each tested here over socketpairs:
/// whatever a poll finds on a parked connection is handled before any other callback of that
/// turn, and within the turn that parked it, `unpark` asks the kernel.
@Suite struct ConnectionParkTests {
    typealias Pair = SocketPairConnection

    @Test func withinTheTurnThatParkedItTheKernelIsAsked() {
        let driver = RedisLoopDriver()
        let quiet = Pair(loop: driver.loop), spoke = Pair(loop: driver.loop), closed = Pair(loop: driver.loop)
        defer { quiet.close(); spoke.close(); closed.close() }
        let checks = driver.loop.unparkKernelChecks
        for p in [quiet, spoke, closed] { p.connection.park(idleTimeout: .seconds(30)) }
        spoke.peerSends("HTTP/1.1 200 OK\r\n")
        shutdown(closed.theirs, Int32(SHUT_WR))
        // No turn has run: the bytes and the EOF wait in the kernel, unseen by the loop.
        #expect(quiet.connection.isParkedThisTurn)
        #expect(quiet.connection.unpark(), "nothing was sent: it may be reused")
        #expect(!spoke.connection.unpark(), "bytes wait in the kernel: not reusable")
        #expect(!closed.connection.unpark(), "EOF waits in the kernel: not reusable")
        #expect(driver.loop.unparkKernelChecks == checks + 3)
    }

    @Test func afterAPollAQuietParkedConnectionComesBackWithoutASystemCall() {
        let driver = RedisLoopDriver()
        let pair = Pair(loop: driver.loop)
        defer { pair.close() }
        pair.connection.park(idleTimeout: .seconds(30))
        #expect(driver.runOneTurn())
        #expect(!pair.connection.isParkedThisTurn)
        let checks = driver.loop.unparkKernelChecks
        #expect(pair.connection.unpark())
        #expect(driver.loop.unparkKernelChecks == checks, "no kernel check after a poll")
        // Back in use, it reads as before.
        pair.peerSends("hello")
        #expect(driver.run { pair.recorder.readable == 1 })
        #expect(pair.connection.inputCount == 5)
    }

    /// The turn where a parked connection's peer speaks and another connection's callback
    /// wants to take it back: the parked one's read runs first, whatever order the bytes
    /// arrived in (here the other connection's first, which the poller would report first).
    @Test func whatAPollFindsOnAParkedConnectionRunsBeforeEveryOtherCallback() {
        let driver = RedisLoopDriver()
        let parked = Pair(loop: driver.loop), client = Pair(loop: driver.loop)
        defer { parked.close(); client.close() }
        client.connection.enableReading()
        parked.connection.park(idleTimeout: .seconds(30))
        #expect(driver.runOneTurn())
        var parkedReadsSeen: Int?
        var reusable: Bool?
        client.recorder.onReadable = {
            parkedReadsSeen = parked.recorder.readable
            reusable = parked.connection.unpark()
        }
        client.peerSends("GET / HTTP/1.1\r\n\r\n")
        parked.peerSends("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nFORGED")
        #expect(driver.run { reusable != nil })
        #expect(parkedReadsSeen == 1, "the parked connection's read ran first in the turn")
        #expect(reusable == false, "what it read keeps it from reuse")
    }

    /// Taking a connection back lowers its read event again: it must not stay ahead of the
    /// loop's other events while in use (that would reorder every turn it reads in).
    @Test func anUnparkedConnectionsReadsNoLongerGoFirst() {
        let driver = RedisLoopDriver()
        let reused = Pair(loop: driver.loop), other = Pair(loop: driver.loop)
        defer { reused.close(); other.close() }
        other.connection.enableReading()
        reused.connection.park(idleTimeout: .seconds(30))
        #expect(driver.runOneTurn())
        #expect(reused.connection.unpark())
        var reusedReadsSeen: Int?
        other.recorder.onReadable = { reusedReadsSeen = reused.recorder.readable }
        other.peerSends("first")
        reused.peerSends("second")
        #expect(driver.run { reusedReadsSeen != nil && reused.recorder.readable == 1 })
        #expect(reusedReadsSeen == 0, "reported in arrival order, like any other connection")
    }
}
