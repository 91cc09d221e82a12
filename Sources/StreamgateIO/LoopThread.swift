#if canImport(Glibc)
import Glibc
#endif

/// A thread that owns one `EventLoop` for its whole life.
///
/// `setup` runs on the new thread with its fresh loop (create loop-confined objects there),
/// then the loop runs until stopped; `join()` waits for the thread to end.
public final class LoopThread: @unchecked Sendable {
    private var thread: pthread_t?
    private let setup: (EventLoop) -> Void
    private let teardown: (EventLoop) -> Void
    public let name: String

    /// `teardown` runs on the thread after the loop stops and before the loop is freed: drop
    /// everything that holds libevent events there (they must die before their event_base).
    public init(name: String, setup: @escaping (EventLoop) -> Void, teardown: @escaping (EventLoop) -> Void = { _ in }) {
        self.name = name
        self.setup = setup
        self.teardown = teardown
    }

    public func start() {
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let me = Unmanaged<LoopThread>.fromOpaque(arg!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = t
    }

    private func body() {
        let loop = EventLoop()
        setup(loop)
        loop.run()
        teardown(loop)
    }

    public func join() {
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }
}

/// Process-level resource helpers.
public enum ProcessLimits {
    /// Raises the soft open-file limit to the hard limit; returns the new soft limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return -1 }
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        }
        return rl.rlim_cur >= UInt(Int.max) ? Int.max : Int(rl.rlim_cur)
    }

    public static var cpuCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Writes to stdout/stderr without buffering surprises (logs from several threads).
    /// False when a write failed (errno says why).
    @discardableResult
    public static func writeAll(fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }
}
