import StreamgateCore
import StreamgateIO
import StreamgateTools

/// What `GET /events` was asked for.
struct EventParams {
    var intervalNanoseconds: UInt64
    /// Minimum bytes per event (the `pad` field fills the gap).
    var size: Int
    /// Events before the stream ends with the last chunk; 0 = forever.
    var count: Int
    /// Events before the connection is reset (RST); 0 = never.
    var abortAfter: Int
    var streamID: Int?
}

/// Encodes one SSE event as one HTTP chunk, without intermediate Strings:
/// `id: S\nevent: tick\ndata: {"seq":S,"sent_us":T[,"stream":I],"pad":"xx.."}\n\n`.
enum EventEncoder {
    /// Writes the chunk into `out` (cleared first) using `event` as scratch.
    static func encodeChunk(seq: Int, sentMicros: Int64, streamID: Int?, size: Int, event: inout [UInt8], into out: inout [UInt8]) {
        event.removeAll(keepingCapacity: true)
        append("id: ", &event); appendDecimal(Int64(seq), &event)
        append("\nevent: tick\ndata: {\"seq\":", &event); appendDecimal(Int64(seq), &event)
        append(",\"sent_us\":", &event); appendDecimal(sentMicros, &event)
        if let streamID { append(",\"stream\":", &event); appendDecimal(Int64(streamID), &event) }
        append(",\"pad\":\"", &event)
        let tail = 4  // "}\n\n plus the closing quote
        let pad = size - (event.count + tail)
        if pad > 0 { event.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: pad)) }
        append("\"}\n\n", &event)

        out.removeAll(keepingCapacity: true)
        appendHex(event.count, &out)
        append("\r\n", &out)
        out.append(contentsOf: event)
        append("\r\n", &out)
    }

    static let lastChunk = "0\r\n\r\n"

    @inline(__always)
    static func append(_ s: StaticString, _ out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func appendDecimal(_ value: Int64, _ out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")); appendDecimal(0 - value, &out); return }
        if value >= 10 { appendDecimal(value / 10, &out) }
        out.append(UInt8(48 + value % 10))
    }

    static func appendHex(_ value: Int, _ out: inout [UInt8]) {
        if value >= 16 { appendHex(value / 16, &out) }
        let d = value % 16
        out.append(UInt8(d < 10 ? 48 + d : 87 + d))
    }
}

/// A stream's per-event bookkeeping shared by both modes: counts, end, abort, backlog cap.
enum StreamStep { case next, finished, aborted, overflowed }

extension DemoSession {
    /// Appends one encoded chunk and decides what happens next.
    func deliver(_ chunk: [UInt8], sent: Int, params: EventParams) -> StreamStep {
        connection.output.append(chunk)
        if params.abortAfter > 0 && sent >= params.abortAfter { return .aborted }
        if params.count > 0 && sent >= params.count {
            connection.output.append(EventEncoder.lastChunk)
            return .finished
        }
        if connection.outputCount > worker.options.maxStreamBacklog { return .overflowed }
        return .next
    }

    func apply(_ step: StreamStep) {
        switch step {
        case .next: break
        case .finished: finishResponse()
        case .aborted: abortAfterFlush()
        case .overflowed: close()
        }
    }
}

/// `GET /events`: its own ticker, sequence numbers continuing after `Last-Event-ID`.
final class EventStream: ActiveResponse {
    private unowned let session: DemoSession
    private let params: EventParams
    private var seq: Int
    private var sent = 0
    private var timer: LoopTimer?
    private var next = NanoTime.zero

    init(session: DemoSession, params: EventParams, startAfter: Int) {
        self.session = session
        self.params = params
        seq = startAfter
    }

    func start() {
        timer = LoopTimer(loop: session.loop) { [unowned self] in self.emit() }
        next = EventLoop.now()
        emit()  // the first event goes out at once, so clients see the stream is live
    }

    private func emit() {
        seq += 1
        sent += 1
        let w = session.worker
        var chunk = [UInt8]()
        swap(&chunk, &w.chunkScratch)
        EventEncoder.encodeChunk(seq: seq, sentMicros: ToolsProcess.wallMicroseconds(), streamID: params.streamID,
                                 size: params.size, event: &w.scratch, into: &chunk)
        let step = session.deliver(chunk, sent: sent, params: params)
        swap(&chunk, &w.chunkScratch)
        if step != .next { timer?.cancel(); session.apply(step); return }
        // Drift-free schedule: a late tick is followed by on-time ones, not a shifted series.
        next = NanoTime(nanoseconds: next.nanoseconds &+ params.intervalNanoseconds)
        timer?.schedule(at: next)
    }

    func writable() {}
    func cancel() { timer?.cancel() }
}

/// `GET /v1/tenants/{tenant}/events`: `id: N`, `event: identity`,
/// `data: {"seq":N,<members>}` at the requested rate. Built from Strings: a demo stream, not
/// a load-test one.
final class IdentityEventStream: ActiveResponse {
    private unowned let session: DemoSession
    private let params: EventParams
    private let data: String
    private var seq: Int
    private var sent = 0
    private var timer: LoopTimer?
    private var next = NanoTime.zero

    init(session: DemoSession, params: EventParams, startAfter: Int, data: String) {
        self.session = session
        self.params = params
        self.data = data
        seq = startAfter
    }

    func start() {
        timer = LoopTimer(loop: session.loop) { [unowned self] in self.emit() }
        next = EventLoop.now()
        emit()
    }

    private func emit() {
        seq += 1
        sent += 1
        let event = Array("id: \(seq)\nevent: identity\ndata: {\"seq\":\(seq),\(data)}\n\n".utf8)
        var chunk: [UInt8] = []
        EventEncoder.appendHex(event.count, &chunk)
        EventEncoder.append("\r\n", &chunk)
        chunk += event
        EventEncoder.append("\r\n", &chunk)
        let step = session.deliver(chunk, sent: sent, params: params)
        if step != .next { timer?.cancel(); session.apply(step); return }
        next = NanoTime(nanoseconds: next.nanoseconds &+ params.intervalNanoseconds)
        timer?.schedule(at: next)
    }

    func writable() {}
    func cancel() { timer?.cancel() }
}

struct BroadcastKey: Hashable {
    var intervalNanoseconds: UInt64
    var size: Int
}

/// One ticker per (rate, size) per worker: each tick is encoded once and the same bytes are
/// appended to every subscriber (cheap at tens of thousands of streams).
final class BroadcastHub {
    private unowned let worker: DemoWorker
    private let key: BroadcastKey
    private var subscribers: [ObjectIdentifier: BroadcastStream] = [:]
    private var timer: LoopTimer?
    private var seq = 0
    private var next = NanoTime.zero
    private var event: [UInt8] = []
    private var chunk: [UInt8] = []
    private var done: [(BroadcastStream, StreamStep)] = []

    init(worker: DemoWorker, key: BroadcastKey) {
        self.worker = worker
        self.key = key
    }

    func add(_ s: BroadcastStream) {
        s.hub = self
        subscribers[ObjectIdentifier(s)] = s
        if timer == nil {
            let t = LoopTimer(loop: worker.loop) { [unowned self] in self.tick() }
            timer = t
            next = EventLoop.now() + .nanoseconds(Int64(clamping: key.intervalNanoseconds))
            t.schedule(at: next)
        }
    }

    func remove(_ s: BroadcastStream) {
        subscribers.removeValue(forKey: ObjectIdentifier(s))
        if subscribers.isEmpty {
            timer?.cancel()
            worker.removeHub(key)
        }
    }

    private func tick() {
        seq += 1
        EventEncoder.encodeChunk(seq: seq, sentMicros: ToolsProcess.wallMicroseconds(), streamID: nil,
                                 size: key.size, event: &event, into: &chunk)
        for s in subscribers.values {
            let step = s.deliver(chunk)
            if step != .next { done.append((s, step)) }
        }
        // Ending streams leave the table only after the walk over it.
        let ended = done
        done.removeAll(keepingCapacity: true)
        for (s, step) in ended { s.end(step) }
        guard !subscribers.isEmpty else { return }
        next = NanoTime(nanoseconds: next.nanoseconds &+ key.intervalNanoseconds)
        timer?.schedule(at: next)
    }
}

/// A subscriber of a `BroadcastHub` (`/events?mode=broadcast`).
final class BroadcastStream: ActiveResponse {
    private unowned let session: DemoSession
    private let params: EventParams
    private var sent = 0
    weak var hub: BroadcastHub?

    init(session: DemoSession, params: EventParams) {
        self.session = session
        self.params = params
    }

    func deliver(_ chunk: [UInt8]) -> StreamStep {
        sent += 1
        return session.deliver(chunk, sent: sent, params: params)
    }

    func end(_ step: StreamStep) {
        hub?.remove(self)
        hub = nil
        session.apply(step)
    }

    func writable() {}
    func cancel() {
        hub?.remove(self)
        hub = nil
    }
}
