import StreamgateIO
import StreamgateTools
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One SSE stream: connect, send the GET, read the head, then count events and their latency
/// until the run ends or the stream does.
final class SSEClient: ConnectionDelegate, BenchClient {
    private unowned let worker: BenchWorker
    private let source: SocketAddress?
    private let request: [UInt8]
    private var connection: Connection?
    private var connected = false
    private var head: ResponseHeadInfo?
    private var body = BodyReader(.untilClose)
    private var scanner = SSEScanner()
    private var done = false

    init(worker: BenchWorker, source: SocketAddress?, request: [UInt8]) {
        self.worker = worker
        self.source = source
        self.request = request
    }

    deinit { connection?.delegate = nil }

    func start() {
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
        end(early: false, reset: false)
    }

    // MARK: ConnectionDelegate

    func connectionReadable(_ connection: Connection) {
        let input = connection.input
        worker.result.bytes += input.count
        if head == nil {
            let view = input.peek(max: 64 << 10)
            guard let end = ToolsBytes.find(ResponseHeadInfo.terminator, in: view) else {
                if input.count >= 64 << 10 { worker.result.countError("head too large"); self.end(early: true, reset: true) }
                return
            }
            guard let info = ResponseHeadInfo.parse(UnsafeRawBufferPointer(rebasing: view[0..<end])) else {
                worker.result.countError("bad response head")
                self.end(early: true, reset: true)
                return
            }
            input.drain(end + 4)
            head = info
            body = BodyReader(info.framing)
            worker.result.countStatus(info.status)
        }
        let now = ToolsProcess.wallMicroseconds()
        let n = input.count
        // During the warm-up the scanner still frames events, but nothing is counted or timed.
        let measuring = worker.measureFromNanos == worker.startNanos || EventLoop.now().nanoseconds >= worker.measureFromNanos
        input.forEachSegment(length: n) { segment in
            body.feed(segment) { payload in
                if measuring {
                    scanner.feed(payload, nowMicros: now, histogram: &worker.result.histogram)
                } else {
                    scanner.feed(payload, nowMicros: now, histogram: &worker.warmupHistogram)
                }
            }
        }
        input.drain(n)
        var (events, comments) = scanner.take()
        if !measuring { events = 0; comments = 0 }
        if events > 0 {
            worker.result.events += events
            worker.progress.events.add(events, ordering: .relaxed)
        }
        worker.result.comments += comments
        if body.isFailed {
            worker.result.countError("bad chunked framing")
            end(early: true, reset: true)
        } else if body.isDone {
            end(early: true, reset: false)
        }
    }

    func connectionWritable(_ connection: Connection) {}

    func connection(_ connection: Connection, event: ConnectionEvent) {
        switch event {
        case .connected:
            connected = true
            worker.result.connectsOK += 1
            worker.progress.open.add(1, ordering: .relaxed)
            connection.setTimeouts(read: nil, write: nil)
            request.withUnsafeBytes { connection.output.append($0) }
            connection.enableReading()
        case .writeTimeout where !connected:
            connectFailed("connect timeout")
        case .error(let e) where !connected:
            connectFailed(BenchResult.errnoName(e))
        case .tlsFailure(let why) where !connected:
            connectFailed("tls: \(why)")
        case .tlsFailure:
            worker.result.countError("tls error")
            end(early: true, reset: true)
        case .endOfStream:
            // A stream delimited by close ends cleanly here; anything else was cut short.
            let clean = head != nil && body.isUntilClose
            if !clean { worker.result.countError(head == nil ? "closed before head" : "truncated body") }
            end(early: true, reset: !clean)
        case .error(let e):
            worker.result.countError(BenchResult.errnoName(e))
            end(early: true, reset: true)
        case .readTimeout, .writeTimeout:
            worker.result.countError("timeout")
            end(early: true, reset: true)
        }
    }

    // MARK: Ending

    /// `early`: the stream ended before the run did (only counted for 200 streams).
    private func end(early: Bool, reset: Bool) {
        guard !done else { return }
        done = true
        if connected { worker.progress.open.subtract(1, ordering: .relaxed) }
        if early && head?.status == 200 {
            worker.result.earlyCloses += 1
            if reset { worker.result.resets += 1 }
        }
        connection?.close()
        connection = nil
        worker.remove(self)
    }

    func stop() {
        guard !done else { return }
        done = true
        if connected {
            worker.progress.open.subtract(1, ordering: .relaxed)
            worker.result.openAtEnd += 1
        }
        connection?.close()
        connection = nil
    }
}
