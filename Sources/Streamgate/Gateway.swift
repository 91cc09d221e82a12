import StreamgateCore
import StreamgateIO
import Synchronization

public final class Gateway: GatewayStatus, @unchecked Sendable {
    /// Changed only by `reload`, on the thread that runs the gateway (the runner's control
    /// loop, or a test); workers see copies handed to their loops.
    public private(set) var options: GatewayOptions
    private var settings: ProxySettings
    /// Each listener's configured address (what `reload` compares) and bound address.
    private var listening: [(configured: SocketAddress, bound: SocketAddress)] = []
    private let reloadsSucceeded = Atomic<UInt64>(0)
    private let reloadsFailed = Atomic<UInt64>(0)
    /// SHA-256 of the config file in force (hex); empty when the gateway was given settings directly.
    private let digestInForce = Mutex<String>("")
    /// Instance-wide counts, shared by the workers and kept across reloads.
    let streamLimiter = StreamLimiter()
    let connectionLimiter = ConnectionLimiter()
    private var threads: [LoopThread] = []
    /// Readable inside the module so tests can run code on a worker's loop (`WorkerSlot.onLoop`),
    /// e.g. hold the loop still while bytes arrive on its sockets; only `start()` writes it.
    private(set) var slots: [WorkerSlot] = []
    /// Where each listener is bound (port 0 resolved), in config order.
    public var boundAddresses: [SocketAddress] { listening.map(\.bound) }
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
        let (fdsPerWorker, bound) = try Gateway.bind(options.listenAddresses, workers: workerCount)
        listening = Array(zip(options.listenAddresses, bound))
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
            let limiters = (streams: streamLimiter, connections: connectionLimiter)
            let slot = WorkerSlot()
            slots.append(slot)
            let t = LoopThread(name: "sg-worker-\(w)") { loop in
                let sink = LogSink(loop: loop, access: options.accessLog, errors: options.errorLog)
                slot.handle = loop.handle
                do {
                    let worker = try Worker(index: w, loop: loop, settings: settings, listenFDs: fds, logSink: sink,
                                            maxConnections: perWorkerConnections, streamLimiter: limiters.streams,
                                            connectionLimiter: limiters.connections)
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

    /// Binds each address once per worker (SO_REUSEPORT siblings); the first bind of an address
    /// resolves port 0 for the others. All or nothing: on a failure every socket bound so far
    /// is closed.
    private static func bind(_ addresses: [SocketAddress], workers: Int) throws
        -> (fds: [[(configured: SocketAddress, fd: Int32)]], bound: [SocketAddress]) {
        var fds = Array(repeating: [(configured: SocketAddress, fd: Int32)](), count: workers)
        var bound: [SocketAddress] = []
        do {
            for address in addresses {
                let first = try Listener.bindSocket(address)
                bound.append(first.address)
                fds[0].append((address, first.fd))
                for w in 1..<workers {
                    fds[w].append((address, try Listener.bindSocket(first.address).fd))
                }
            }
        } catch {
            for list in fds { for entry in list { close(entry.fd) } }
            throw error
        }
        return (fds, bound)
    }

    /// Applies a reloaded configuration: new requests use `settings` at once, everything
    /// already running keeps the snapshot it started with. Added listeners are bound first (a
    /// failure changes nothing and throws); removed ones stop accepting and their connections
    /// drain as they end. Worker count and admin address are fixed for the process's life.
    public func reload(settings: ProxySettings, listenAddresses: [SocketAddress], drainTimeout: Duration, configDigest: String) throws {
        let configured = listening.map(\.configured)
        let added = listenAddresses.filter { !configured.contains($0) }
        let removed = configured.filter { !listenAddresses.contains($0) }
        let (fdsPerWorker, bound) = try Gateway.bind(added, workers: max(1, slots.count))
        self.settings = settings
        options.drainTimeout = drainTimeout
        options.listenAddresses = listenAddresses
        listening.removeAll { removed.contains($0.configured) }
        listening += zip(added, bound).map { ($0, $1) }
        let perWorkerConnections = max(1, settings.maxConnections / max(1, slots.count))
        let applied = Mutex<Int>(0)
        for (w, slot) in slots.enumerated() {
            let fds = fdsPerWorker[w]
            slot.onLoop { worker in
                for address in removed { worker.removeListener(configured: address) }
                for entry in fds {
                    do { try worker.addListener(configured: entry.configured, fd: entry.fd) } catch {
                        worker.logError("reload: listener \(entry.configured): \(error)")
                    }
                }
                worker.apply(settings: settings, maxConnections: perWorkerConnections)
                applied.withLock { $0 += 1 }
            }
        }
        // Returns once every worker serves new requests with the new config (a loop turn each;
        // bounded in case a worker is stuck).
        var spins = 0
        while applied.withLock({ $0 }) < slots.count && spins < 5_000 {
            spins += 1
            usleepMillis(1)
        }
        reloadsSucceeded.add(1, ordering: .relaxed)
        digestInForce.withLock { $0 = configDigest }
    }

    /// Counts a reload refused because the new config was invalid (nothing changed).
    public func reloadFailed() { reloadsFailed.add(1, ordering: .relaxed) }

    var reloadCounts: (succeeded: UInt64, failed: UInt64) {
        (reloadsSucceeded.load(ordering: .relaxed), reloadsFailed.load(ordering: .relaxed))
    }

    public var configDigest: String {
        get { digestInForce.withLock { $0 } }
        set { digestInForce.withLock { $0 = newValue } }
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

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}

#if canImport(Glibc)
import Glibc
#endif
