import StreamgateCore
import StreamgateIO
import Synchronization

/// Options that shape the process rather than the data path.
public struct GatewayOptions: Sendable {
    public var workers: Int
    public var listenAddresses: [SocketAddress]
    public var drainTimeout: Duration
    public var accessLog: LogFile?
    public var errorLog: LogFile

    public init(workers: Int, listenAddresses: [SocketAddress], drainTimeout: Duration, accessLog: LogFile?, errorLog: LogFile = .stderr) {
        self.workers = workers; self.listenAddresses = listenAddresses; self.drainTimeout = drainTimeout
        self.accessLog = accessLog; self.errorLog = errorLog
    }
}

/// The running gateway: N worker threads, each with its own loop, listeners and pools.
///
/// Lifecycle: `start()` binds every listener (port 0 resolved once, then shared through
/// SO_REUSEPORT by every worker), starts the workers and returns the bound addresses;
/// `drain()` stops accepting and lets in-flight work end; `wait()` joins the threads.
public final class Gateway: @unchecked Sendable {
    public let options: GatewayOptions
    private let settings: ProxySettings
    private var threads: [LoopThread] = []
    private var slots: [WorkerSlot] = []
    public private(set) var boundAddresses: [SocketAddress] = []

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
                    slot.worker = try Worker(index: w, loop: loop, settings: settings, listenFDs: fds, logSink: sink, maxConnections: perWorkerConnections)
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
        return bound
    }

    /// Stops accepting everywhere; in-flight exchanges finish (streams end at an event boundary)
    /// within the drain timeout; then the worker loops stop.
    public func drain() {
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
    }
}

/// A worker as seen from other threads: reachable only by running code on its loop.
final class WorkerSlot: @unchecked Sendable {
    // Written once on the worker's thread before `start()` returns (ordered by the ready
    // mutex); afterwards `worker` is touched only on that thread, through `onLoop`.
    var handle: EventLoopHandle?
    var worker: Worker?
    var failure: String?

    func onLoop(_ body: @escaping (Worker) -> Void) {
        nonisolated(unsafe) let body = body
        handle?.execute { [self] in
            if let worker { body(worker) }
        }
    }
}

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}

#if canImport(Glibc)
import Glibc
#endif
