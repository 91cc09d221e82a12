import StreamgateCore
import StreamgateIO

/// What a worker's connections, exchanges and stream relays share: the loop, the live
/// counters, the logs and whether the worker drains. Owned by the worker and handed to each
/// exchange and relay at init, so they depend on these and not on `Worker`.
final class WorkerServices {
    let loop: EventLoop
    /// Live counters (see `Metrics.swift`).
    var metrics = WorkerMetrics()
    /// Set once by `Worker.beginDrain`: responses from then on close their connection.
    var isDraining = false
    private let logSink: LogSink

    init(loop: EventLoop, logSink: LogSink) {
        self.loop = loop
        self.logSink = logSink
    }

    func log(_ record: AccessLogRecord) { logSink.access(record) }
    /// False when access logging is off: callers skip building records nobody writes.
    var logsAccess: Bool { logSink.logsAccess }
    func logError(_ message: String) { logSink.error(message) }
    func logTime() -> String { logSink.timestamp() }
}
