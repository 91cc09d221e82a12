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

    /// Points this descriptor at a freshly opened `path` (log rotation: the old file was moved
    /// away). dup2 swaps the file under the same descriptor number in one step, so writers on
    /// every thread carry on without knowing; false (errno set) leaves the old file in place.
    public func reopen(path: String) -> Bool {
        let fresh = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fresh >= 0 else { return false }
        defer { Glibc.close(fresh) }
        // dup2 clears FD_CLOEXEC on `fd`: set it again (the gateway starts no children, but stays tidy).
        guard dup2(fresh, fd) >= 0 else { return false }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return true
    }

    /// One write(2) per call: lines from several workers never interleave mid-line for
    /// writes under PIPE_BUF, and O_APPEND keeps file writes whole.
    public func write(_ bytes: [UInt8]) { ProcessLimits.writeAll(fd: fd, bytes) }
}
