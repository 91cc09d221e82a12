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
    private var handles: [EventLoopHandle] = []
    private let state = Mutex<(started: Int, failed: String?, remaining: Int)>((0, nil, 0))
    public private(set) var boundAddresses: [SocketAddress] = []
    private let workersBox = Mutex<[Int: Worker]>([:])

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
        state.withLock { $0.remaining = workerCount }
        for w in 0..<workerCount {
            let fds = fdsPerWorker[w]
            let settings = self.settings
            let options = self.options
            let t = LoopThread(name: "sg-worker-\(w)") { [weak self] loop in
                let sink = LogSink(loop: loop, access: options.accessLog, errors: options.errorLog)
                do {
                    let worker = try Worker(index: w, loop: loop, settings: settings, listenFDs: fds, logSink: sink, maxConnections: perWorkerConnections)
                    self?.register(worker: worker, index: w, handle: loop.handle)
                } catch {
                    self?.state.withLock { $0.failed = "\(error)" }
                    loop.stop()
                }
                ready.withLock { $0 += 1 }
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
        if let failed = state.withLock({ $0.failed }) { throw ListenError(description: failed) }
        return bound
    }

    private func register(worker: Worker, index: Int, handle: EventLoopHandle) {
        workersBox.withLock { $0[index] = worker }
        state.withLock { _ in }
        handlesLock.withLock { $0.append(handle) }
    }
    private let handlesLock = Mutex<[EventLoopHandle]>([])

    /// Stops accepting everywhere; in-flight exchanges finish (streams end at an event boundary)
    /// within the drain timeout; then the worker loops stop.
    public func drain() {
        let timeout = options.drainTimeout
        for h in handlesLock.withLock({ $0 }) {
            h.execute { [weak self] in
                guard let self else { return }
                self.withWorker(on: h) { worker in
                    worker.beginDrain(timeout: timeout) { worker.loop.stop() }
                }
            }
        }
    }

    /// Runs `body` with the worker owned by the loop of `handle`, on that loop's thread.
    private func withWorker(on handle: EventLoopHandle, _ body: (Worker) -> Void) {
        let w = workersBox.withLock { box in box.values.first { $0.loop.handle === handle } }
        if let w { body(w) }
    }

    /// Blocks until every worker thread has ended.
    public func wait() {
        for t in threads { t.join() }
        threads.removeAll()
    }
}

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}

#if canImport(Glibc)
import Glibc
#endif
