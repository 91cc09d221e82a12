/// Reconnect delays: 100 ms doubling to 5 s, with "equal jitter" (half fixed, half random) so a
/// fleet of workers that lost Redis together does not reconnect in lock-step, yet never
/// retries in a tight loop.
public struct RedisBackoff: Sendable {
    public static let initial: Duration = .milliseconds(100)
    public static let maximum: Duration = .seconds(5)

    /// Consecutive failures since the last successful handshake.
    public private(set) var failures = 0

    public init() {}

    /// The delay before the next attempt; counts one more failure.
    public mutating func nextDelay<G: RandomNumberGenerator>(using rng: inout G) -> Duration {
        let cap = Self.ceiling(afterFailures: failures)
        failures += 1
        let ns = Int64(cap.nanosecondsClamped)
        let half = ns / 2
        return .nanoseconds(half + Int64.random(in: 0...(ns - half), using: &rng))
    }

    public mutating func nextDelay() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return nextDelay(using: &rng)
    }

    public mutating func reset() { failures = 0 }

    /// The un-jittered delay after `n` consecutive failures: 100ms * 2^n, at most 5 s.
    public static func ceiling(afterFailures n: Int) -> Duration {
        let shift = min(n, 16)  // 100ms << 6 already passes 5 s; the clamp keeps the shift small
        let ns = initial.nanosecondsClamped << UInt64(shift)
        return .nanoseconds(Int64(min(ns, maximum.nanosecondsClamped)))
    }
}
