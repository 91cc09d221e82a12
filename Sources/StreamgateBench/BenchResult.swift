#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One worker's tallies; merged across workers at the end. Plain data: it crosses threads once.
struct BenchResult: Sendable {
    var connectsOK = 0
    var connectsFailed = 0
    var statuses: [Int: Int] = [:]
    /// Socket errors by name (connect failures and mid-stream errors).
    var errors: [String: Int] = [:]
    var events = 0
    var comments = 0
    var bytes = 0
    /// 200 streams that ended (cleanly or not) before the run did.
    var earlyCloses = 0
    /// Of those, the ones ended by an error (RST) or a framing fault rather than a clean end.
    var resets = 0
    /// Streams still open when the run ended.
    var openAtEnd = 0
    /// Plain mode: completed request/response exchanges.
    var requests = 0
    var reconnects = 0
    var histogram = LatencyHistogram()
    /// Start to end of counting (closing thousands of sockets afterwards is not part of it).
    var measuredNanos: UInt64 = 0

    mutating func countStatus(_ s: Int) { statuses[s, default: 0] += 1 }
    mutating func countError(_ name: String) { errors[name, default: 0] += 1 }

    mutating func merge(_ o: BenchResult) {
        connectsOK += o.connectsOK
        connectsFailed += o.connectsFailed
        for (k, v) in o.statuses { statuses[k, default: 0] += v }
        for (k, v) in o.errors { errors[k, default: 0] += v }
        events += o.events
        comments += o.comments
        bytes += o.bytes
        earlyCloses += o.earlyCloses
        resets += o.resets
        openAtEnd += o.openAtEnd
        requests += o.requests
        reconnects += o.reconnects
        histogram.merge(o.histogram)
        measuredNanos = max(measuredNanos, o.measuredNanos)
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case ECONNREFUSED: "ECONNREFUSED"
        case ECONNRESET: "ECONNRESET"
        case ETIMEDOUT: "ETIMEDOUT"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EADDRINUSE: "EADDRINUSE"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case EPIPE: "EPIPE"
        case ENETUNREACH: "ENETUNREACH"
        case EHOSTUNREACH: "EHOSTUNREACH"
        default: "errno \(e)"
        }
    }
}

/// Live counters for the once-a-second progress line (updated once per read, not per event).
final class BenchProgress: Sendable {
    let events = Atomic<Int>(0)
    let open = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    private let results = Mutex<[BenchResult]>([])

    func submit(_ r: BenchResult) { results.withLock { $0.append(r) } }
    func merged() -> BenchResult {
        results.withLock { all in
            var m = BenchResult()
            for r in all { m.merge(r) }
            return m
        }
    }
}
