#if canImport(Glibc)
import Glibc
#endif
import StreamgateCore
@testable import StreamgateIO
import Testing

/// `Connection` makes its input and output buffers on first use and gives them back while the
/// connection is quiet (`releaseIdleBuffers`, or a receiver taking the reads): bytes that arrive
/// or must wait afterwards go into buffers made again, in order. Over a socketpair, no gateway.
@Suite struct ConnectionBufferTests {
    final class Peer: ConnectionDelegate, ConnectionReceiver {
        var readable = 0
        var writable = 0
        var received: [UInt8] = []
        func connectionReadable(_ connection: Connection) { readable += 1 }
        func connectionWritable(_ connection: Connection) { writable += 1 }
        func connection(_ connection: Connection, event: ConnectionEvent) {}
        func connection(_ connection: Connection, received bytes: UnsafeRawBufferPointer) { received += bytes }
    }

    /// A connection on one end of a socketpair with a `Peer` as its delegate, and the other
    /// end. It keeps the peer alive until `close()` (a connection's delegate is unowned).
    final class ConnectedPair {
        let driver = RedisLoopDriver()
        let connection: Connection
        let theirs: Int32
        let peer = Peer()

        init() {
            let (mine, theirs) = ConnectionBufferTests.socketPair()
            self.theirs = theirs
            connection = Connection(loop: driver.loop, fd: mine)
            connection.delegate = peer
        }

        func close() {
            connection.close()
            Glibc.close(theirs)
        }
    }

    fileprivate static func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
        precondition(rc == 0, "socketpair: \(errno)")
        return (fds[0], fds[1])
    }

    private static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        precondition(n == bytes.count)
    }

    /// Appends whatever the socket has now (non-blocking).
    private static func readAvailable(_ fd: Int32, into out: inout [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            out += buffer[0..<n]
        }
    }

    @Test func writeQueuesInAnOutputBufferMadeAgainAfterRelease() {
        let pair = ConnectedPair()
        defer { pair.close() }
        let (driver, c, theirs, peer) = (pair.driver, pair.connection, pair.theirs, pair.peer)
        #expect(!c.holdsBuffers)  // nothing made before use
        c.output.append("head\n")
        #expect(driver.run { c.outputCount == 0 && peer.writable == 1 })
        c.releaseIdleBuffers()
        #expect(!c.holdsBuffers)
        // More than the socket takes: the rest waits in a buffer made for it, whose watch
        // flushes it as the peer reads.
        let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let queued = payload.withUnsafeBytes { bytes in
            driver.loop.gather.append(bytes)
            return c.write(driver.loop.gather)
        }
        #expect(queued > 0)
        #expect(c.outputCount == queued)
        var got: [UInt8] = []
        #expect(driver.run { Self.readAvailable(theirs, into: &got); return got.count >= 5 + payload.count })
        #expect(got.count == 5 + payload.count)
        #expect(Array(got.prefix(5)) == Array("head\n".utf8))
        #expect(Array(got.dropFirst(5)) == payload)
        #expect(driver.run { c.outputCount == 0 && peer.writable == 2 })
    }

    @Test func aContiguousWriteGoesStraightToTheSocketUnlessOutputWaits() {
        let pair = ConnectedPair()
        defer { pair.close() }
        let (driver, c, theirs) = (pair.driver, pair.connection, pair.theirs)
        // Nothing queued: sent within the call, no buffer made, no flush to wait for.
        #expect(c.write(Array("first\n".utf8)) == 0)
        #expect(!c.holdsBuffers)
        var got: [UInt8] = []
        Self.readAvailable(theirs, into: &got)
        #expect(got == Array("first\n".utf8))
        // More than the socket takes: the rest waits, and a later write queues behind it
        // instead of overtaking it.
        let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let queued = c.write(payload)
        #expect(queued > 0)
        #expect(c.write(Array("last\n".utf8)) == queued + 5)
        got = []
        #expect(driver.run { Self.readAvailable(theirs, into: &got); return got.count >= payload.count + 5 })
        #expect(got.count == payload.count + 5)
        #expect(Array(got.prefix(payload.count)) == payload)
        #expect(Array(got.suffix(5)) == Array("last\n".utf8))
        #expect(driver.run { c.outputCount == 0 })
    }

    @Test func readsGoToAReceiverThenToAnInputBufferMadeAgain() {
        let pair = ConnectedPair()
        defer { pair.close() }
        let (driver, c, theirs, peer) = (pair.driver, pair.connection, pair.theirs, pair.peer)
        c.output.append("request\n")
        c.enableReading()
        Self.send(theirs, "first")
        #expect(driver.run { c.inputCount == 5 })
        c.input.drain(5)
        #expect(c.holdsBuffers)
        // A receiver takes the reads: the empty buffers go at the next flush.
        c.setReceiver(peer)
        Self.send(theirs, "second")
        #expect(driver.run { peer.received == Array("second".utf8) })
        #expect(!c.holdsBuffers)
        c.setReceiver(nil)
        Self.send(theirs, "third")
        #expect(driver.run { c.inputCount == 5 })
        #expect(Array(c.input.peek(max: 5)) == Array("third".utf8))
        #expect(peer.readable == 2)
        var got: [UInt8] = []
        Self.readAvailable(theirs, into: &got)
        #expect(got == Array("request\n".utf8))
    }
}
