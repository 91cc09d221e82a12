import StreamgateCore
import StreamgateIO
import StreamgateTools
import Synchronization

/// A client connection the worker can stop at the end of the run.
protocol BenchClient: AnyObject {
    func start()
    /// The run is over: close, and count the stream as still open if it was.
    func stop()
}

/// One event loop thread's share of the connections.
final class BenchWorker {
    let index: Int
    let options: BenchOptions
    let loop = EventLoop()
    let target: SocketAddress
    let sources: [SocketAddress]
    let progress: BenchProgress
    let startNanos: UInt64
    let endNanos: UInt64
    /// Events count (and are timed) from here on: the end of the warm-up.
    let measureFromNanos: UInt64
    let connectTimeout: Duration
    /// TLS for every connection (nil: plain), shared by all workers; the name to send and verify.
    let tls: TLSClientContext?
    let serverName: String
    var result = BenchResult()
    /// Where warm-up latencies go (never reported).
    var warmupHistogram = LatencyHistogram()

    private let share: Int
    private let rampPerSecond: Double
    private var opened = 0
    private var clients: [ObjectIdentifier: BenchClient] = [:]
    private var rampTimer: LoopTimer?
    private var endTimer: LoopTimer?
    private var progressTimer: LoopTimer?
    private var lastProgressEvents = 0
    private var lastProgressRequests = 0
    private var finished = false

    init(index: Int, options: BenchOptions, target: SocketAddress, sources: [SocketAddress], progress: BenchProgress, startNanos: UInt64,
         tls: TLSClientContext?) {
        self.index = index
        self.tls = tls
        serverName = options.serverName ?? options.host
        self.options = options
        self.target = target
        self.sources = sources
        self.progress = progress
        self.startNanos = startNanos
        endNanos = startNanos + UInt64(options.durationSeconds * 1e9)
        measureFromNanos = startNanos + UInt64(options.warmupSeconds * 1e9)
        connectTimeout = .nanoseconds(Int64(options.connectTimeoutSeconds * 1e9))
        share = options.streams / options.threads + (index < options.streams % options.threads ? 1 : 0)
        rampPerSecond = options.ramp / Double(options.threads)
    }

    /// Runs the loop until the duration is over; returns this worker's tallies.
    func run() -> BenchResult {
        let ramp = LoopTimer(loop: loop) { [unowned self] in self.rampTick() }
        rampTimer = ramp
        let end = LoopTimer(loop: loop) { [unowned self] in self.finish() }
        endTimer = end
        end.schedule(at: NanoTime(nanoseconds: endNanos))
        if index == 0 && !options.json {
            let p = LoopTimer(loop: loop) { [unowned self] in self.printProgress() }
            progressTimer = p
            p.schedule(after: .seconds(1))
        }
        rampTick()
        loop.run()
        // libevent events must be freed before their base: drop every timer and client while
        // `loop` is still alive (stored properties are destroyed in declaration order).
        rampTimer = nil
        endTimer = nil
        progressTimer = nil
        clients.removeAll()
        return result
    }

    // MARK: Opening connections

    private func rampTick() {
        guard !finished else { return }
        let elapsed = Double(EventLoop.now().nanoseconds &- startNanos) / 1e9
        var due = share
        if rampPerSecond > 0 { due = min(share, Int(rampPerSecond * elapsed) + 1) }
        // Bounded batches keep the loop responsive while thousands of connects start.
        var budget = 500
        while opened < due && budget > 0 {
            open(ordinal: opened)
            opened += 1
            budget -= 1
        }
        if opened < share { rampTimer?.schedule(after: .milliseconds(rampPerSecond > 0 ? 10 : 1)) }
    }

    private func open(ordinal: Int) {
        // Spread over workers so that tokens and source addresses go round-robin globally.
        let global = ordinal * options.threads + index
        let source = sources.isEmpty ? nil : sources[global % sources.count]
        let token = options.tokens.isEmpty ? nil : options.tokens[global % options.tokens.count]
        let client: BenchClient
        switch options.mode {
        case .sse: client = SSEClient(worker: self, source: source, request: request(token: token, accept: "text/event-stream"))
        case .plain: client = PlainClient(worker: self, source: source, request: request(token: token, accept: "*/*"))
        }
        clients[ObjectIdentifier(client)] = client
        client.start()
    }

    private func request(token: String?, accept: String) -> [UInt8] {
        var r = "GET \(options.requestTarget) HTTP/1.1\r\nHost: \(options.hostPort)\r\nAccept: \(accept)\r\nUser-Agent: streamgate-bench\r\n"
        if let token { r += "Authorization: Bearer \(token)\r\n" }
        r += "\r\n"
        return Array(r.utf8)
    }

    /// Starts a client's connection: plain or TLS as the options say.
    func connect(from source: SocketAddress?) -> Connection? {
        Connection.connect(loop: loop, to: target, from: source, timeout: connectTimeout, tls: tls, serverName: serverName)
    }

    func remove(_ client: BenchClient) { clients.removeValue(forKey: ObjectIdentifier(client)) }

    var isFinished: Bool { finished }

    // MARK: End

    private func finish() {
        finished = true
        result.measuredNanos = EventLoop.now().nanoseconds &- measureFromNanos
        rampTimer?.cancel()
        progressTimer?.cancel()
        for c in Array(clients.values) { c.stop() }
        clients.removeAll()
        loop.stop()
    }

    private func printProgress() {
        let t = Double(EventLoop.now().nanoseconds &- startNanos) / 1e9
        let ev = progress.events.load(ordering: .relaxed)
        let rq = progress.requests.load(ordering: .relaxed)
        let open = progress.open.load(ordering: .relaxed)
        let fail = progress.failures.load(ordering: .relaxed)
        switch options.mode {
        case .sse:
            ToolsProcess.printError("t=\(Int(t.rounded()))s open=\(open) failed=\(fail) events=\(ev) events/s=\(ev - lastProgressEvents)")
        case .plain:
            ToolsProcess.printError("t=\(Int(t.rounded()))s connections=\(open) failed=\(fail) requests=\(rq) req/s=\(rq - lastProgressRequests)")
        }
        lastProgressEvents = ev
        lastProgressRequests = rq
        progressTimer?.schedule(after: .seconds(1))
    }
}
