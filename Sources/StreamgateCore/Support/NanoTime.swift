/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// State machines take `now` as an argument instead of reading a clock, so tests drive them
/// with a manual clock and never sleep.
public struct NanoTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static let zero = NanoTime(nanoseconds: 0)

    public static func < (a: NanoTime, b: NanoTime) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (t: NanoTime, d: Duration) -> NanoTime {
        NanoTime(nanoseconds: t.nanoseconds &+ d.nanosecondsClamped)
    }

    /// Time elapsed from `earlier` to `self` (zero if `earlier` is later).
    public func since(_ earlier: NanoTime) -> Duration {
        nanoseconds >= earlier.nanoseconds ? .nanoseconds(Int64(clamping: nanoseconds - earlier.nanoseconds)) : .zero
    }

    /// Nanoseconds from `earlier` to `self` (zero if `earlier` is later): `since` without a
    /// `Duration`, whose conversions cost 128-bit arithmetic on paths that run per request.
    @inline(__always)
    public func nanoseconds(since earlier: NanoTime) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? nanoseconds &- earlier.nanoseconds : 0
    }

    public var description: String { "\(nanoseconds)ns" }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0...UInt64.max (negative durations count as zero).
    public var nanosecondsClamped: UInt64 {
        let (s, a) = components
        if s < 0 { return 0 }
        let ns = UInt64(clamping: s).multipliedReportingOverflow(by: 1_000_000_000)
        if ns.overflow { return .max }
        return ns.partialValue &+ UInt64(clamping: a / 1_000_000_000)
    }

    public var milliseconds: Int64 { Int64(clamping: nanosecondsClamped / 1_000_000) }
}
