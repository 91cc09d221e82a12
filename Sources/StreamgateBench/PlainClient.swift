import StreamgateCore
import StreamgateIO
import StreamgateTools
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One keep-alive connection sending a request, waiting for the full response, and repeating.
/// Reconnects when the server closes; a failed connect is retried after a short pause.
final class PlainClient: ConnectionDelegate, BenchClient {
    private unowned let worker: BenchWorker
    private let source: SocketAddress?
    private let request: [UInt8]
    private var connection: Connection?
    private var connected = false
    private var head: ResponseHeadInfo?
    private var body = BodyReader(.length(0))
    private var sentAt = NanoTime.zero
    private var inFlight = false
    private var stopped = false
    private var retryTimer: LoopTimer?

    init(worker: BenchWorker, source: SocketAddress?, request: [UInt8]) {
        self.worker = worker
        self.source = source
        self.request = request
    }

    deinit { connection?.delegate = nil }

    func start() {
        guard !stopped, !worker.isFinished else { return }
        connected = false
        head = nil
        inFlight = false
        guard let c = worker.connect(from: source) else {
            connectFailed(BenchResult.errnoName(errno))
            return
        }
        connection = c
        c.delegate = self
    }

    private func connectFailed(_ why: String) {
        worker.result.connectsFailed += 1
        worker.result.countError(why)
        worker.progress.failures.add(1, ordering: .relaxed)
        connection?.close()
        connection = nil
        let t = retryTimer ?? LoopTimer(loop: worker.loop) { [unowned self] in self.start() }
        retryTimer = t
        t.schedule(after: .milliseconds(50))
    }

    private func send() {
        guard let connection else { return }
        head = nil
        inFlight = true
        sentAt = EventLoop.now()
        request.withUnsafeBytes { connection.output.append($0) }
    }

    /// The server went away (or broke framing): count what was cut and start over.
    private func reconnect(error: String?) {
        if let error { worker.result.countError(error) }
        if connected { worker.progress.open.subtract(1, ordering: .relaxed) }
        connection?.close()
        connection = nil
        worker.result.reconnects += 1
        start()
    }

    // MARK: ConnectionDelegate

    func connectionReadable(_ connection: Connection) {
        let input = connection.input
        worker.result.bytes += input.count
        while inFlight && !input.isEmpty {
            if head == nil {
                let view = input.peek(max: 64 << 10)
                guard let end = ToolsBytes.find(ResponseHeadInfo.terminator, in: view) else { return }
                guard let info = ResponseHeadInfo.parse(UnsafeRawBufferPointer(rebasing: view[0..<end])) else {
                    return reconnect(error: "bad response head")
                }
                input.drain(end + 4)
                head = info
                body = BodyReader(info.framing)
                if body.isDone { complete(); continue }
            }
            var consumed = 0
            input.forEachSegment(length: input.count) { segment in
                guard !body.isDone && !body.isFailed else { return }
                consumed += body.feed(segment) { _ in }
            }
            input.drain(consumed)
            if body.isFailed { return reconnect(error: "bad chunked framing") }
            if body.isDone { complete() } else { return }
        }
    }

    /// A full response arrived: record it, then reuse the connection if the server allows.
    private func complete() {
        record()
        if head?.close ?? true { reconnect(error: nil) } else { send() }
    }

    private func record() {
        guard let head else { return }
        inFlight = false
        worker.result.requests += 1
        worker.result.countStatus(head.status)
        worker.result.histogram.record(Int64(EventLoop.now().since(sentAt).nanosecondsClamped / 1000))
        worker.progress.requests.add(1, ordering: .relaxed)
    }

    func connectionWritable(_ connection: Connection) {}

    func connection(_ connection: Connection, event: ConnectionEvent) {
        switch event {
        case .connected:
            connected = true
            worker.result.connectsOK += 1
            worker.progress.open.add(1, ordering: .relaxed)
            connection.setTimeouts(read: nil, write: nil)
            connection.enableReading()
            send()
        case .writeTimeout where !connected:
            connectFailed("connect timeout")
        case .error(let e) where !connected:
            connectFailed(BenchResult.errnoName(e))
        case .tlsFailure(let why) where !connected:
            connectFailed("tls: \(why)")
        case .tlsFailure:
            reconnect(error: "tls error")
        case .endOfStream:
            if inFlight, head != nil, body.isUntilClose {
                record()
                reconnect(error: nil)
            } else {
                reconnect(error: inFlight ? "closed mid-response" : nil)
            }
        case .error(let e):
            reconnect(error: BenchResult.errnoName(e))
        case .readTimeout, .writeTimeout:
            reconnect(error: "timeout")
        }
    }

    func stop() {
        stopped = true
        retryTimer?.cancel()
        if connected { worker.progress.open.subtract(1, ordering: .relaxed) }
        connected = false
        connection?.close()
        connection = nil
    }
}
