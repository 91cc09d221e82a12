#if canImport(Glibc)
import Glibc
#endif

/// Process-level helpers for the bundled tools (demo upstream, load generator).
public enum ToolsProcess {
    /// Wall-clock microseconds since the epoch: comparable across processes on one host, which
    /// is what end-to-end event latency (`sent_us` stamped by the origin) needs.
    @inline(__always)
    public static func wallMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) &* 1_000_000 &+ Int64(ts.tv_nsec / 1000)
    }

    /// Writes a line to stdout and flushes at once (harnesses read the first line through a pipe).
    public static func printFlushed(_ line: String) {
        print(line)
        fflush(nil)  // nil = every stream; naming `stdout` is not concurrency-safe in Swift 6.
    }

    /// Writes a line to stderr (progress and diagnostics stay out of machine-read stdout).
    public static func printError(_ line: String) {
        var s = line + "\n"
        s.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// A joinable OS thread running one closure (one event loop per thread).
public final class ToolsThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    private init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    /// Starts `body` on a new thread.
    public static func start(_ body: @escaping @Sendable () -> Void) -> ToolsThread {
        let t = ToolsThread(body)
        let arg = Unmanaged.passRetained(t).toOpaque()
        let rc = pthread_create(&t.thread, nil, { raw in
            let t = Unmanaged<ToolsThread>.fromOpaque(raw!).takeRetainedValue()
            t.body()
            return nil
        }, arg)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return t
    }

    /// Waits for the thread to finish.
    public func join() { _ = pthread_join(thread, nil) }
}
