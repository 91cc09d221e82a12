#if canImport(Glibc)
import Glibc
#endif

/// RFC 3339 UTC timestamps for log lines, with the per-second part cached.
public struct WallClock {
    private var cachedSecond: Int = -1
    private var cachedPrefix: String = ""

    public init() {}

    /// "2026-11-23T10:31:11.123Z"
    public mutating func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let sec = Int(ts.tv_sec)
        if sec != cachedSecond {
            var t = time_t(sec)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            cachedPrefix = "\(tmv.tm_year + 1900)-\(pad2(Int(tmv.tm_mon) + 1))-\(pad2(Int(tmv.tm_mday)))T\(pad2(Int(tmv.tm_hour))):\(pad2(Int(tmv.tm_min))):\(pad2(Int(tmv.tm_sec)))"
            cachedSecond = sec
        }
        let ms = Int(ts.tv_nsec) / 1_000_000
        let m = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return cachedPrefix + "." + m + "Z"
    }

    private func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// An append-only output file descriptor for logs (stdout, stderr, or a file opened O_APPEND).
public struct LogFile: Sendable {
    public let fd: Int32
    public static let stdout = LogFile(fd: 1)
    public static let stderr = LogFile(fd: 2)

    public init(fd: Int32) { self.fd = fd }

    public static func open(path: String) -> LogFile? {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        return fd >= 0 ? LogFile(fd: fd) : nil
    }

    /// One write(2) per call: lines from several workers never interleave mid-line for
    /// writes under PIPE_BUF, and O_APPEND keeps file writes whole.
    public func write(_ bytes: [UInt8]) { ProcessLimits.writeAll(fd: fd, bytes) }
}
