internal import CLibevent
import StreamgateCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One libevent `event_base`, driven by exactly one thread.
///
/// Everything created on a loop (connections, timers, listeners) must be used only from that
/// loop's thread. Other threads talk to it through `handle` (the only Sendable part).
public final class EventLoop {
    let base: OpaquePointer
    public let handle: EventLoopHandle
    private var wakeEvent: OpaquePointer?
    private var flushQueue: [Connection] = []
    private var flushBatch: [Connection] = []
    private var flushEvent: OpaquePointer?
    /// Where stream sources read: each read is relayed before its callback returns, so one
    /// buffer serves every socket of the loop.
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Where heads are written that leave (or are copied) before the writing call returns:
    /// the upstream request head and the response plan's (`UpstreamRequest.withHead`,
    /// `ResponsePlan.make`). Longer heads spill into an allocation of their own.
    public let headScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 * 1024, alignment: 16)
    /// Reused for every gathered write on this loop.
    public let gather = GatherList()

    /// Must run once per process before any loop exists. libevent's own locking is left off
    /// (every loop object is confined to one thread; other threads reach a loop only through
    /// its handle's eventfd), which saves a mutex round trip on every buffer operation; writes
    /// to closed peers must not kill the process.
    /// pthread locking, and writes to closed peers must not kill the process.
    public static let processSetup: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    public init() {
        _ = EventLoop.processSetup
        let cfg = event_config_new()
        // epoll changelist: add/delete pairs within one loop turn (a write event armed for a
        // response and dropped once it drains) collapse into one epoll_ctl or none. We never
        // dup() sockets, which is the changelist's one caveat.
        event_config_set_flag(cfg, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        let b = event_base_new_with_config(cfg)
        event_config_free(cfg)
        guard let b else { fatalError("event_base_new failed") }
        // Two priorities: parked connections' events (`Connection.park`) run ahead of all
        // others in a turn; everything else gets the default, the lower one.
        event_base_priority_init(b, 2)
        base = b
        handle = EventLoopHandle()
        let wake = event_new(base, handle.wakeFD, Int16(EV_READ | EV_PERSIST), { _, _, arg in
            Unmanaged<EventLoopHandle>.fromOpaque(arg!).takeUnretainedValue().drain()
        }, Unmanaged.passUnretained(handle).toOpaque())
        wakeEvent = wake
        event_add(wake, nil)
        handle.attach(wakeEvent: wake)
        let b2 = b
        handle.setBreaker { event_base_loopbreak(b2) }
        flushEvent = event_new(base, -1, 0, { _, _, arg in
            Unmanaged<EventLoop>.fromOpaque(arg!).takeUnretainedValue().runFlushes()
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Timeouts as libevent takes them, each converted once: connections re-arm their timers
    /// several times per request, a `Duration` costs some 400 instructions of 128-bit
    /// arithmetic to convert, and a configuration uses only a handful of distinct timeouts.
    /// Raw storage rather than an array: the lookup runs several times per request, and an
    /// array stored in a class costs a retain and release of its buffer on each.
    private static let timevalSlots = 32
    private let timevalKeys = UnsafeMutablePointer<Duration>.allocate(capacity: EventLoop.timevalSlots)
    private let timevalValues = UnsafeMutablePointer<timeval>.allocate(capacity: EventLoop.timevalSlots)
    private let nanosecondValues = UnsafeMutablePointer<UInt64>.allocate(capacity: EventLoop.timevalSlots)
    private var timevalCount = 0

    func timeval(for timeout: Duration) -> timeval {
        timevalValues[slot(for: timeout)]
    }

    /// `timeout` in whole nanoseconds, from the same cache.
    func nanoseconds(for timeout: Duration) -> UInt64 {
        nanosecondValues[slot(for: timeout)]
    }

    /// `Duration`'s `==` is a call into the standard library (it is not inlinable), made for
    /// every slot passed over; its two words are compared here instead.
    @inline(__always)
    private static func same(_ a: Duration, _ b: Duration) -> Bool {
        let x = unsafeBitCast(a, to: (UInt64, UInt64).self), y = unsafeBitCast(b, to: (UInt64, UInt64).self)
        return x.0 == y.0 && x.1 == y.1
    }

    private func slot(for timeout: Duration) -> Int {
        for i in 0..<timevalCount where Self.same(timevalKeys[i], timeout) { return i }
        // Bounded: a timeout computed per use (none is, today) reuses the last slot.
        let i = min(timevalCount, EventLoop.timevalSlots - 1)
        timevalKeys[i] = timeout
        timevalValues[i] = Connection.makeTimeval(timeout)
        nanosecondValues[i] = timeout.nanosecondsClamped
        timevalCount = i + 1
        return i
    }

    /// Connections with output written during this loop turn; flushed together right after.
    func enqueueFlush(_ c: Connection) {
        flushQueue.append(c)
        if flushQueue.count == 1 { event_active(flushEvent, EV_TIMEOUT, 0) }
    }

    private func runFlushes() {
        // Flushing can run callbacks that queue more output: loop until quiet. The two lists
        // trade places, so neither is copied (clearing a list still shared with the batch
        // being run would allocate a new one every time).
        while !flushQueue.isEmpty {
            swap(&flushQueue, &flushBatch)
            for c in flushBatch { c.flushNow() }
            flushBatch.removeAll(keepingCapacity: true)
        }
    }

    deinit {
        readScratch.deallocate()
        headScratch.deallocate()
        timevalKeys.deallocate()
        timevalValues.deallocate()
        nanosecondValues.deallocate()
        flushQueue.removeAll()
        flushBatch.removeAll()
        if let flushEvent { event_free(flushEvent) }
        handle.detach()
        if let wakeEvent { event_free(wakeEvent) }
        event_base_free(base)
    }

    /// The priority of every event but parked connections' reads (`Connection.park`).
    static let defaultPriority: Int32 = 1

    /// Loop turns completed. A turn is one `event_base_loop(EVLOOP_ONCE)`: it polls the kernel
    /// (once, or again when callbacks remain active) and runs what became ready. So a value
    /// noted in one callback and seen to have changed in a later one means the kernel has been
    /// polled in between, which `Connection.unpark` relies on.
    public private(set) var turn: UInt64 = 0
    /// Parked connections taken back with a kernel check (`Connection.unpark`), for tests.
    var unparkKernelChecks = 0

    /// Runs until `stop()` (or the handle's `stop()`) is called.
    public func run() {
        // 0: the turn ran; 1: nothing left to wait for; -1: the backend failed.
        var result: Int32
        repeat {
            result = event_base_loop(base, EVLOOP_ONCE)
            turn &+= 1
        } while result == 0 && event_base_got_break(base) == 0
    }

    /// Stops `run()` after the current callback returns.
    public func stop() { event_base_loopbreak(base) }

    /// The monotonic clock state machines are driven with.
    public static func now() -> NanoTime {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return NanoTime(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// Wall-clock seconds since the epoch (session expiries are wall-clock).
    public static func wallSeconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }

    public static func wallMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// The thread-safe face of an `EventLoop`: run closures on it, or stop it.
/// Used for control traffic (reload, drain, revocation fan-out), never per request.
public final class EventLoopHandle: @unchecked Sendable {
    private let queue = Mutex<[@Sendable () -> Void]>([])
    // Set on the loop thread before any other thread sees the handle; cleared in the loop's deinit.
    private nonisolated(unsafe) var wakeEvent: OpaquePointer?
    private let alive = Atomic<Bool>(true)
    /// An eventfd the loop watches: writing to it from any thread wakes the loop.
    let wakeFD: Int32 = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))

    init() {}
    deinit { close(wakeFD) }
    func attach(wakeEvent: OpaquePointer?) { self.wakeEvent = wakeEvent }
    func detach() { alive.store(false, ordering: .sequentiallyConsistent); wakeEvent = nil }

    /// Runs `work` on the loop's thread soon. Dropped silently if the loop is gone.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        guard alive.load(ordering: .sequentiallyConsistent) else { return }
        queue.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Breaks the loop from any thread.
    public func stop() {
        execute { [weak self] in self?.breakLoop() }
    }

    private nonisolated(unsafe) var breaker: (() -> Void)?
    func setBreaker(_ b: @escaping () -> Void) { breaker = b }
    private func breakLoop() { breaker?() }

    func drain() {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
        let jobs = queue.withLock { q -> [@Sendable () -> Void] in
            let j = q
            q.removeAll(keepingCapacity: true)
            return j
        }
        for job in jobs { job() }
    }
}

