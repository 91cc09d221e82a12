#if canImport(Glibc)
import Glibc
#endif
@testable import StreamgateIO

/// A `Connection` on one end of a socketpair, on a given loop, and the other end, with a
/// delegate that records what the connection reports (and never closes it: tests look
/// afterwards). For transport tests without a gateway.
final class SocketPairConnection {
    final class Recorder: ConnectionDelegate {
        var readable = 0
        var events: [ConnectionEvent] = []
        var onReadable: (() -> Void)?
        func connectionReadable(_ connection: Connection) {
            readable += 1
            onReadable?()
        }
        func connectionWritable(_ connection: Connection) {}
        func connection(_ connection: Connection, event: ConnectionEvent) { events.append(event) }
    }

    let connection: Connection
    let theirs: Int32
    /// Kept here: a connection's delegate is unowned.
    let recorder = Recorder()

    init(loop: EventLoop) {
        var fds: [Int32] = [-1, -1]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
        precondition(rc == 0, "socketpair: \(errno)")
        theirs = fds[1]
        connection = Connection(loop: loop, fd: fds[0])
        connection.delegate = recorder
    }

    func peerSends(_ text: String) {
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(theirs, $0.baseAddress, $0.count, 0) }
        precondition(n == bytes.count)
    }

    func close() {
        connection.close()
        Glibc.close(theirs)
    }
}

extension RedisLoopDriver {
    /// Runs the loop until a timer due at once has fired: at least one turn, so one poll.
    func runOneTurn() -> Bool {
        var fired = false
        let timer = LoopTimer(loop: loop) { fired = true }
        timer.schedule(after: .zero)
        return run { fired }
    }

    /// Lets `idle` pass with the loop stopped, then runs it for `then`. Not a wait for an
    /// event: time passing while nothing runs is what makes every deadline already armed
    /// fall due in the same turn.
    func runAfterDeadlinesPass(idle microseconds: UInt32, then: Duration) -> Bool {
        usleep(microseconds)
        var done = false
        let end = LoopTimer(loop: loop) { done = true }
        end.schedule(after: then)
        return run { done }
    }
}
