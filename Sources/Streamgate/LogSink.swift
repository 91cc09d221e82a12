import StreamgateCore
import StreamgateIO

/// A worker's log output. Access lines collect in a buffer written once per loop turn (a
/// zero-delay timer), so a busy loop makes one write(2) for many requests without delaying any.
final class LogSink {
    private let access: LogFile?
    private let errors: LogFile
    private var buffer: [UInt8] = []
    private var clock = WallClock()
    private var flushTimer: LoopTimer?
    static let flushThreshold = 32 * 1024

    init(loop: EventLoop, access: LogFile?, errors: LogFile) {
        self.access = access
        self.errors = errors
        buffer.reserveCapacity(LogSink.flushThreshold)
        flushTimer = LoopTimer(loop: loop) { [unowned self] in self.flush() }
    }

    func timestamp() -> String { clock.timestamp() }

    /// False when access logging is off: callers skip building records nobody writes.
    var logsAccess: Bool { access != nil }

    func access(_ record: AccessLogRecord) {
        guard access != nil else { return }
        record.appendJSONLine(to: &buffer)
        if buffer.count >= LogSink.flushThreshold {
            flush()
        } else if let t = flushTimer, !t.isArmed {
            t.schedule(after: .zero)
        }
    }

    func error(_ message: String) {
        var line: [UInt8] = []
        line.append(contentsOf: #"{"time":"#.utf8)
        JSON.appendQuoted(clock.timestamp(), to: &line)
        line.append(contentsOf: #","level":"error","msg":"#.utf8)
        JSON.appendQuoted(message, to: &line)
        line.append(contentsOf: "}\n".utf8)
        errors.write(line)
    }

    func flush() {
        guard !buffer.isEmpty, let access else { return }
        access.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
