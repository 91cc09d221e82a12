/// A fixed log-linear histogram of non-negative integers (microseconds here): exact below 64,
/// then 32 sub-buckets per power of two (under 3.2% error). Recording never allocates.
struct LatencyHistogram: Sendable {
    static let subBits = 5
    static let linear = 64
    static let bucketCount = linear + (64 - 6) * (1 << subBits)

    private(set) var counts: [UInt64]
    private(set) var total: UInt64 = 0
    private(set) var max: Int64 = 0
    private(set) var min: Int64 = .max
    private(set) var sum: Double = 0

    init() { counts = [UInt64](repeating: 0, count: Self.bucketCount) }

    @inline(__always)
    static func index(_ v: Int64) -> Int {
        let u = UInt64(Swift.max(0, v))
        if u < UInt64(linear) { return Int(u) }
        let exp = 63 - u.leadingZeroBitCount  // >= 6
        let mantissa = Int((u >> UInt64(exp - subBits)) & UInt64((1 << subBits) - 1))
        return linear + (exp - 6) * (1 << subBits) + mantissa
    }

    /// The middle of bucket `i` (what a percentile reports).
    static func value(at i: Int) -> Double {
        if i < linear { return Double(i) }
        let exp = (i - linear) / (1 << subBits) + 6
        let mantissa = (i - linear) % (1 << subBits)
        let width = Double(UInt64(1) << UInt64(exp - subBits))
        let low = Double(UInt64(1) << UInt64(exp)) + Double(mantissa) * width
        return low + width / 2
    }

    @inline(__always)
    mutating func record(_ v: Int64) {
        let clamped = Swift.max(0, v)
        counts[Self.index(clamped)] &+= 1
        total &+= 1
        if clamped > max { max = clamped }
        if clamped < min { min = clamped }
        sum += Double(clamped)
    }

    mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<counts.count { counts[i] &+= other.counts[i] }
        total &+= other.total
        max = Swift.max(max, other.max)
        min = Swift.min(min, other.min)
        sum += other.sum
    }

    /// The value at quantile `q` (0...1), nil when empty. Never above the exact maximum.
    func percentile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let target = Swift.max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<counts.count {
            seen &+= counts[i]
            if seen >= target { return Swift.min(Self.value(at: i), Double(max)) }
        }
        return Double(max)
    }

    var mean: Double? { total > 0 ? sum / Double(total) : nil }
}
