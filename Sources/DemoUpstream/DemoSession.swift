import StreamgateCore
import StreamgateIO
import StreamgateTools

/// A response that outlives the request callback (a stream, a delayed answer, a large body).
protocol ActiveResponse: AnyObject {
    /// Output drained to the low watermark.
    func writable()
    /// The connection is going away: stop timers, leave hubs.
    func cancel()
}

/// One accepted connection: reads requests in order, answers each before reading the next
/// (pipelining), keeps the connection alive between them.
final class DemoSession: ConnectionDelegate {
    unowned let worker: DemoWorker
    let connection: Connection
    private var reader = DemoRequestReader()
    /// Set while a response is in flight; further pipelined requests wait in the input buffer.
    private var active: ActiveResponse?
    private var busy = false
    private var keepAlive = true
    private var closeWhenFlushed = false
    private var abortWhenFlushed = false
    private var closed = false
    /// True while `processInput` runs: a response finished synchronously lets its loop go on
    /// instead of recursing (thousands of pipelined requests must not grow the stack).
    private var processing = false

    /// Input allowed to pile up behind a busy response before reading pauses.
    private static let maxBufferedInput = 1 << 20

    init(worker: DemoWorker, connection: Connection) {
        self.worker = worker
        self.connection = connection
    }

    deinit { connection.delegate = nil }

    var loop: EventLoop { worker.loop }

    func start() {
        connection.delegate = self
        connection.enableReading()
    }

    // MARK: ConnectionDelegate

    func connectionReadable(_ connection: Connection) {
        processInput()
    }

    func connectionWritable(_ connection: Connection) {
        if let active { active.writable(); return }
        guard connection.outputCount == 0 else { return }
        if abortWhenFlushed { abort() } else if closeWhenFlushed { close() }
    }

    func connection(_ connection: Connection, event: ConnectionEvent) {
        switch event {
        case .connected, .readTimeout, .writeTimeout:
            if event != .connected { close() }
        case .endOfStream:
            // A half-closed client still gets answers to what it already sent.
            if busy { close(); return }
            processInput()
            if !closed && !busy { closeAfterFlush() }
        case .error, .tlsFailure:
            close()
        }
    }

    // MARK: Request loop

    private func processInput() {
        if processing { return }
        processing = true
        defer { processing = false }
        while !closed && !busy {
            switch reader.read(from: connection.input) {
            case .needMore:
                return
            case .sendContinue:
                connection.output.append("HTTP/1.1 100 Continue\r\n\r\n")
            case .failed(let status, let reason):
                keepAlive = false
                let body = "\(reason)\n"
                writeHead(status: status, reason: reason, headers: "Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n")
                connection.output.append(body)
                closeAfterFlush()
                return
            case .request(let request):
                keepAlive = request.keepAlive
                busy = true
                DemoEndpoints.dispatch(request, session: self)
            }
        }
        if busy && connection.inputCount > Self.maxBufferedInput { connection.disableReading() }
    }

    /// Called by endpoints once the response is complete: read the next pipelined request.
    func finishResponse() {
        active = nil
        busy = false
        guard !closed else { return }
        if !keepAlive { closeAfterFlush(); return }
        connection.enableReading()
        if !processing { processInput() }
    }

    /// Marks a response as long-lived; it hears `writable()` and `cancel()`.
    func setActive(_ response: ActiveResponse) { active = response }

    // MARK: Writing

    /// Writes a status line plus `headers` (each ending in CRLF) and the blank line. Adds
    /// `Connection: close` when this is the last response on the connection.
    func writeHead(status: Int, reason: String, headers: String) {
        var head = "HTTP/1.1 \(status) \(reason)\r\n\(headers)"
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        connection.output.append(head)
    }

    /// A complete small response.
    func respond(status: Int, reason: String, contentType: String = "text/plain", extraHeaders: String = "", body: String) {
        writeHead(status: status, reason: reason,
                  headers: "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)")
        connection.output.append(body)
        finishResponse()
    }

    func closeAfterFlush() {
        if connection.outputCount == 0 { close(); return }
        closeWhenFlushed = true
        connection.disableReading()
        connection.setWriteLowWatermark(0)
    }

    /// Closes now (FIN); unsent output is dropped.
    func close() {
        guard !closed else { return }
        closed = true
        active?.cancel()
        active = nil
        connection.close()
        worker.remove(self)
    }

    /// Resets the connection once everything queued so far reached the socket, so the peer
    /// sees exactly the bytes sent before the reset.
    func abortAfterFlush() {
        active?.cancel()
        active = nil
        if connection.outputCount == 0 { abort(); return }
        abortWhenFlushed = true
        connection.disableReading()
        connection.setWriteLowWatermark(0)
    }

    /// Closes with RST (SO_LINGER 0): the peer sees a reset, not a clean end.
    func abort() {
        guard !closed else { return }
        closed = true
        active?.cancel()
        active = nil
        connection.abort()
        worker.remove(self)
    }

    var isClosed: Bool { closed }
}
