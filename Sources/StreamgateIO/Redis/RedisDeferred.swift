internal import CLibevent

/// Work for the next loop turn: failure completions (never run inside `command()` or
/// `close()`, where callers may not expect re-entrance) and the last references to sessions
/// and connections closed from inside their own callbacks (still on the stack).
///
/// Scheduled with `event_base_once`, which retains this object until it fires, so pending
/// completions still run after the client itself is gone.
final class RedisDeferred {
    private let base: OpaquePointer
    private var failures: [(RedisPendingCommand, RedisClientError)] = []
    private var keepAlive: [AnyObject] = []
    private var scheduled = false

    init(base: OpaquePointer) { self.base = base }

    func fail(_ command: RedisPendingCommand, _ error: RedisClientError) {
        failures.append((command, error))
        schedule()
    }

    /// Holds `object` until the next loop turn.
    func retainUntilNextTurn(_ object: AnyObject) {
        keepAlive.append(object)
        schedule()
    }

    private func schedule() {
        guard !scheduled else { return }
        scheduled = true
        var tv = timeval(tv_sec: 0, tv_usec: 0)
        let rc = event_base_once(base, -1, Int16(EV_TIMEOUT), { _, _, arg in
            Unmanaged<RedisDeferred>.fromOpaque(arg!).takeRetainedValue().run()
        }, Unmanaged.passRetained(self).toOpaque(), &tv)
        precondition(rc == 0, "event_base_once failed")
    }

    private func run() {
        scheduled = false
        let batch = failures
        failures.removeAll()
        let held = keepAlive
        keepAlive.removeAll()
        for (command, error) in batch { command.finish(.failure(error)) }
        withExtendedLifetime(held) {}
    }
}
