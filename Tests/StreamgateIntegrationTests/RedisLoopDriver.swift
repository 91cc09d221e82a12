import StreamgateCore
import StreamgateIO

/// Runs an `EventLoop` on the test's own thread until a condition holds, with an overall
/// deadline, so loop-confined objects need no locks in tests.
final class RedisLoopDriver {
    let loop = EventLoop()

    /// Runs the loop until `condition()` is true (checked every millisecond) or `timeout`
    /// passes. Returns whether the condition held.
    @discardableResult
    func run(timeout: Duration = .seconds(10), until condition: @escaping () -> Bool) -> Bool {
        if condition() { return true }
        var met = false
        let deadline = EventLoop.now() + timeout
        var poll: LoopTimer?
        poll = LoopTimer(loop: loop) { [loop] in
            if condition() {
                met = true
                loop.stop()
            } else if EventLoop.now() >= deadline {
                loop.stop()
            } else {
                poll?.schedule(after: .milliseconds(1))
            }
        }
        poll?.schedule(after: .milliseconds(1))
        loop.run()
        poll = nil
        return met
    }

    /// Runs the loop for one command and returns its result (nil if none came in time).
    func send(_ client: RedisClient, _ args: [String], timeout: Duration = .seconds(10)) -> RedisResult? {
        var result: RedisResult?
        client.command(args) { result = $0 }
        run(timeout: timeout) { result != nil }
        return result
    }

    /// Repeats `args` until it succeeds with a non-error reply (e.g. while reconnecting).
    func sendUntilSuccess(_ client: RedisClient, _ args: [String], timeout: Duration = .seconds(15)) -> RedisReply? {
        let deadline = EventLoop.now() + timeout
        while EventLoop.now() < deadline {
            if case .success(let r)? = send(client, args) {
                if case .error = r {} else { return r }
            }
            // Give a backing-off client time to retry before asking again.
            run(timeout: .milliseconds(20)) { false }
        }
        return nil
    }
}
