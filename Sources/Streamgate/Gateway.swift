import StreamgateCore
import StreamgateIO
import Synchronization

/// Options that shape the process rather than the data path.
public struct GatewayOptions: Sendable {
    public var workers: Int
    /// In `[[listeners]]` order: entry i is served with `ProxySettings.listeners[i]`.
    public var listenAddresses: [SocketAddress]
    public var drainTimeout: Duration
    public var accessLog: LogFile?
    public var errorLog: LogFile
    /// `/healthz`, `/readyz`, `/metrics`; nil = no admin endpoint.
    public var adminAddress: SocketAddress?

    public init(workers: Int, listenAddresses: [SocketAddress], drainTimeout: Duration, accessLog: LogFile?,
                errorLog: LogFile = .stderr, adminAddress: SocketAddress? = nil) {
        self.workers = workers; self.listenAddresses = listenAddresses; self.drainTimeout = drainTimeout
        self.accessLog = accessLog; self.errorLog = errorLog; self.adminAddress = adminAddress
    }
}

/// The running gateway: N worker threads, each with its own loop, listeners and pools.
///
/// Lifecycle: `start()` binds every listener (port 0 resolved once, then shared through
/// SO_REUSEPORT by every worker), starts the workers and returns the bound addresses;
/// `drain()` stops accepting and lets in-flight work end; `wait()` joins the threads.
public final class Gateway: GatewayStatus, @unchecked Sendable {
    public let options: GatewayOptions
    private let settings: ProxySettings
    private var threads: [LoopThread] = []
    private var slots: [WorkerSlot] = []
    public private(set) var boundAddresses: [SocketAddress] = []
    public private(set) var adminBoundAddress: SocketAddress?
    private let drainingFlag = Atomic<Bool>(false)
    private var adminThread: LoopThread?
    private var adminHandle: EventLoopHandle?

    public init(settings: ProxySettings, options: GatewayOptions) {
        self.settings = settings
        self.options = options
    }

    /// Binds listeners and starts the worker threads. Throws if a listener cannot be bound.
    @discardableResult
    public func start() throws -> [SocketAddress] {
        _ = EventLoop.processSetup
        let workerCount = max(1, options.workers)
        // Bind once per worker per listener. The first bind of each address resolves port 0.
        var fdsPerWorker = Array(repeating: [Int32](), count: workerCount)
        var bound: [SocketAddress] = []
        for address in options.listenAddresses {
            let first = try Listener.bindSocket(address)
            bound.append(first.address)
            fdsPerWorker[0].append(first.fd)
            for w in 1..<workerCount {
                fdsPerWorker[w].append(try Listener.bindSocket(first.address).fd)
            }
        }
        boundAddresses = bound
        var adminFD: Int32?
        if let a = options.adminAddress {
            let b = try Listener.bindSocket(a)
            adminFD = b.fd
            adminBoundAddress = b.address
        }
        let perWorkerConnections = max(1, settings.maxConnections / workerCount)
        let ready = Mutex<Int>(0)
        for w in 0..<workerCount {
            let fds = fdsPerWorker[w]
            let settings = self.settings
            let options = self.options
            let slot = WorkerSlot()
            slots.append(slot)
            let t = LoopThread(name: "sg-worker-\(w)") { loop in
                let sink = LogSink(loop: loop, access: options.accessLog, errors: options.errorLog)
                slot.handle = loop.handle
                do {
                    let worker = try Worker(index: w, loop: loop, settings: settings, listenFDs: fds, logSink: sink, maxConnections: perWorkerConnections)
                    slot.worker = worker
                    worker.publishMetrics = { m in slot.published.withLock { $0 = m } }
                } catch {
                    slot.failure = "\(error)"
                    loop.stop()
                }
                ready.withLock { $0 += 1 }
            } teardown: { _ in
                slot.worker?.shutdown()
                slot.worker = nil
            }
            threads.append(t)
            t.start()
        }
        // Wait (bounded) for every worker to own its listeners before reporting readiness.
        var spins = 0
        while ready.withLock({ $0 }) < workerCount && spins < 10_000 {
            spins += 1
            usleepMillis(1)
        }
        if let failed = slots.compactMap(\.failure).first { throw ListenError(description: failed) }
        if let adminFD { startAdmin(fd: adminFD) }
        return bound
    }

    private func startAdmin(fd: Int32) {
        let started = Mutex<EventLoopHandle?>(nil)
        let box = AdminBox()
        let t = LoopThread(name: "sg-admin") { [unowned self] loop in
            box.server = try? AdminServer(loop: loop, fd: fd, gateway: self)
            started.withLock { $0 = loop.handle }
        } teardown: { _ in
            box.server?.shutdown()
            box.server = nil
        }
        t.start()
        var spins = 0
        while started.withLock({ $0 }) == nil && spins < 5000 { spins += 1; usleepMillis(1) }
        adminHandle = started.withLock { $0 }
        adminThread = t
    }

    public var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }

    /// The latest counters of every worker (each publishes its own, about once a second).
    func metrics() -> [WorkerMetrics] { slots.map { $0.published.withLock { $0 } } }

    /// Stops accepting everywhere; in-flight exchanges finish (streams end at an event boundary)
    /// within the drain timeout; then the worker loops stop.
    public func drain() {
        drainingFlag.store(true, ordering: .relaxed)
        let timeout = options.drainTimeout
        for slot in slots {
            slot.onLoop { worker in
                worker.beginDrain(timeout: timeout) { worker.loop.stop() }
            }
        }
    }

    /// Blocks until every worker thread has ended.
    public func wait() {
        for t in threads { t.join() }
        threads.removeAll()
        adminHandle?.stop()
        adminThread?.join()
        adminThread = nil
    }
}

/// A worker as seen from other threads: reachable only by running code on its loop.
final class WorkerSlot: @unchecked Sendable {
    // Written once on the worker's thread before `start()` returns (ordered by the ready
    // mutex); afterwards `worker` is touched only on that thread, through `onLoop`.
    var handle: EventLoopHandle?
    var worker: Worker?
    var failure: String?
    let published = Mutex(WorkerMetrics())

    func onLoop(_ body: @escaping (Worker) -> Void) {
        nonisolated(unsafe) let body = body
        handle?.execute { [self] in
            if let worker { body(worker) }
        }
    }
}

final class AdminBox: @unchecked Sendable { var server: AdminServer? }

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}

#if canImport(Glibc)
import Glibc
#endif
