/// The upper bounds of a latency histogram, fixed at compile time so every worker's buckets
/// line up and summing them is adding arrays.
public struct HistogramBuckets: Sendable {
    /// Ascending upper bounds in nanoseconds (`le`, inclusive).
    public let boundsNanos: [UInt64]
    /// The same bounds as the `le` label text (seconds, as written here).
    public let labels: [String]

    /// `seconds`: decimal strings, ascending ("0.0005", "1", ...).
    public init(seconds: [String]) {
        labels = seconds
        boundsNanos = seconds.map { PrometheusText.nanoseconds(decimalSeconds: $0) ?? .max }
    }

    /// Whole requests (non-stream) and upstream time to first byte: 0.5 ms to 30 s.
    public static let request = HistogramBuckets(seconds: [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
    ])

    /// Connects and Redis lookups: 100 µs to 5 s.
    public static let connect = HistogramBuckets(seconds: [
        "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
        "2.5", "5",
    ])
}

/// Observations counted per bucket (not cumulative: one increment per observation), plus the
/// sum. Cumulated only when rendered.
public struct Histogram: Sendable, Equatable {
    /// `counts[i]` for bucket `i`; the last entry counts observations above every bound (+Inf).
    public private(set) var counts: [UInt64]
    public private(set) var sumNanos: UInt64 = 0

    public init(buckets: HistogramBuckets) {
        counts = [UInt64](repeating: 0, count: buckets.boundsNanos.count + 1)
    }

    public var count: UInt64 { counts.reduce(0, &+) }

    public mutating func observe(nanos: UInt64, buckets: HistogramBuckets) {
        let bounds = buckets.boundsNanos
        var i = 0
        while i < bounds.count && nanos > bounds[i] { i &+= 1 }
        counts[i] &+= 1
        sumNanos &+= nanos
    }

    /// The time from `start` to `end`.
    @inline(__always)
    public mutating func observe(from start: NanoTime, to end: NanoTime, buckets: HistogramBuckets) {
        observe(nanos: end.nanoseconds(since: start), buckets: buckets)
    }

    /// Adds another histogram with the same buckets (another worker's).
    public mutating func add(_ other: Histogram) {
        for i in 0..<min(counts.count, other.counts.count) { counts[i] &+= other.counts[i] }
        sumNanos &+= other.sumNanos
    }

    /// Cumulative counts, one per bound and then +Inf (which equals `count`).
    public var cumulative: [UInt64] {
        var total: UInt64 = 0
        return counts.map { total &+= $0; return total }
    }
}
