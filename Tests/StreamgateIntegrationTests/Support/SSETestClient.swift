import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real Server-Sent Events client over a `RawClient`, for integration tests.
///
/// Three layers, all incremental (bytes may arrive split anywhere):
/// 1. the HTTP response head;
/// 2. the body framing: chunked (the terminating chunk is recorded), Content-Length, or
///    close-delimited;
/// 3. the event stream, parsed as the WHATWG HTML algorithm says (§9.2.6): lines end in CRLF,
///    LF or CR (a CR at the end of one read may pair with an LF at the start of the next),
///    one leading BOM is dropped, `:` lines are comments, `data`/`event`/`id`/`retry` fields
///    fill the buffers, and a blank line dispatches an event when the data buffer is not empty.
///
/// It keeps the de-chunked body bytes (`body`) so tests can check exactly what the gateway
/// wrote between two upstream writes, and a log of dispatched events and comments in arrival
/// order (`items`).
final class SSETestClient {
    struct Event: Equatable {
        /// The event's type (`event:` field; "message" when absent).
        var type: String
        var data: String
        /// The last event ID buffer at dispatch (what `EventSource.lastEventId` shows).
        var lastEventID: String
        /// True when this event itself carried an `id` field.
        var hadID: Bool
    }

    enum Item: Equatable {
        case event(Int)  // index into `events`
        case comment(String)
    }

    /// How the response body ended, as far as the client can tell.
    enum Ending: Equatable {
        /// Still open (nothing final seen yet).
        case open
        /// A chunked body's terminating chunk (`0\r\n...\r\n`) arrived.
        case terminatingChunk
        /// A Content-Length body arrived complete.
        case contentLengthComplete
        /// The connection closed (FIN) with no clean end of a chunked/length-delimited body.
        /// For a close-delimited body this is its normal end.
        case eofWithoutTerminator
        /// The connection was reset (ECONNRESET) before a clean end.
        case reset
    }

    enum Framing: Equatable { case chunked, contentLength(Int), closeDelimited }

    let raw: RawClient
    private(set) var status = 0
    private(set) var headers: [(String, String)] = []
    private(set) var headText = ""
    private(set) var framing: Framing = .closeDelimited

    /// The response body with the chunk framing removed.
    private(set) var body: [UInt8] = []
    /// Size of every data chunk as received (chunked framing only).
    private(set) var chunkSizes: [Int] = []
    private(set) var events: [Event] = []
    private(set) var comments: [String] = []
    private(set) var items: [Item] = []
    /// The last valid `retry:` value in milliseconds, and how many valid `retry:` lines came.
    private(set) var retry: Int?
    private(set) var retryCount = 0
    private(set) var ending: Ending = .open
    /// True once the socket is at EOF or reset (after `ending` was decided).
    private(set) var connectionClosed = false
    /// Bytes that followed the end of the body on the connection (should be none).
    private(set) var bytesAfterBody = 0

    var commentCount: Int { comments.count }
    var keepaliveCount: Int { comments.filter { $0 == " keepalive" }.count }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var isFinished: Bool { ending != .open }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    // Framing state.
    private var wire: [UInt8] = []  // undecoded bytes after the head
    private var chunkRemaining = 0  // data bytes left in the current chunk
    private var chunkState: ChunkState = .size
    private enum ChunkState { case size, data, dataCRLF, trailers, done }
    private var lengthRemaining = 0

    // Event-stream parser state (per the WHATWG algorithm).
    private var atStreamStart = true
    private var bomProbe: [UInt8] = []
    private var pendingCR = false
    private var line: [UInt8] = []
    private var dataBuffer = ""
    private var dataSeen = false
    private var eventType = ""
    private var lastEventIDBuffer = ""
    private var eventHadID = false

    /// True when the parser is between events: no partial line and no buffered field, so
    /// ending the stream here loses nothing.
    var isAtEventBoundary: Bool { line.isEmpty && !pendingCR && !dataSeen && eventType.isEmpty && !eventHadID }

    /// Wraps a connected client whose request is sent (or will be sent by the caller).
    init(raw: RawClient) { self.raw = raw }

    /// Connects, sends `GET path` with `Accept: text/event-stream` plus `headers`, and reads
    /// the response head.
    /// With `readHead` false only the request is sent (a scripted upstream must answer
    /// before the head can be read; call `readHead()` then).
    convenience init(port: UInt16, path: String, headers: [String] = [], timeout: Double = 5, readHead: Bool = true) throws {
        self.init(raw: try RawClient(port: port, timeout: timeout))
        sendRequest(path: path, headers: headers)
        if readHead { try self.readHead() }
    }

    /// Sends `GET path` as an `EventSource` would.
    func sendRequest(path: String, headers extra: [String] = []) {
        var req = "GET \(path) HTTP/1.1\r\nHost: sse.test\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
        for h in extra { req += h + "\r\n" }
        raw.send(req + "\r\n")
    }

    /// Reads the response head and feeds whatever body bytes came with it.
    func readHead() throws {
        headText = try raw.readHead()
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let s = Int(statusLine[1]) else { throw TestError("bad status line in \(headText)") }
        status = s
        headers = lines.compactMap { l in
            guard let c = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        if let te = header("transfer-encoding"), te.lowercased().contains("chunked") {
            framing = .chunked
        } else if let cl = header("content-length"), let n = Int(cl) {
            framing = .contentLength(n)
            lengthRemaining = n
            if n == 0 { ending = .contentLengthComplete }
        } else {
            framing = .closeDelimited
        }
        let rest = raw.buffer
        raw.buffer.removeAll()
        feedWire(rest)
    }

    // MARK: - Reading

    /// Reads once (up to the socket timeout) and parses what came. Returns the bytes read;
    /// 0 at EOF, -1 on timeout or error (`ending` records a reset or an EOF).
    @discardableResult
    func pump() -> Int {
        if connectionClosed { return 0 }
        let n = raw.readSome()
        if n > 0 {
            let bytes = raw.buffer
            raw.buffer.removeAll(keepingCapacity: true)
            feedWire(bytes)
            return n
        }
        if n == 0 {
            connectionClosed = true
            if ending == .open { ending = .eofWithoutTerminator }
            return 0
        }
        if errno == ECONNRESET {
            connectionClosed = true
            if ending == .open { ending = .reset }
            return 0
        }
        return -1
    }

    /// Reads until `condition` holds. Throws on timeout, or when the stream ends first.
    func read(until condition: (SSETestClient) -> Bool, what: String = "condition") throws {
        while !condition(self) {
            let n = pump()
            if n == 0 { throw TestError("stream ended (\(ending)) before \(what); \(events.count) events, body tail: \(tailText)") }
            if n < 0 { throw TestError("timed out before \(what); \(events.count) events, body tail: \(tailText)") }
        }
    }

    func read(events count: Int) throws {
        try read(until: { $0.events.count >= count }, what: "\(count) events")
    }

    func read(comments count: Int) throws {
        try read(until: { $0.comments.count >= count }, what: "\(count) comments")
    }

    /// Reads until the body contains `text` (de-chunked).
    func read(bodyContaining text: String) throws {
        let needle = Array(text.utf8)
        try read(until: { HTTPTestResponse.find($0.body, needle, from: 0) != nil }, what: "body containing \(text.debugDescription)")
    }

    /// Reads until the connection closes (EOF/reset) or the socket timeout passes. Returns
    /// false on timeout.
    @discardableResult
    func readToEnd() -> Bool {
        while !connectionClosed {
            if pump() < 0 { return false }
        }
        return true
    }

    /// Waits `seconds` and returns how many bytes arrived meanwhile (stopping early at EOF).
    /// For asserting that nothing is written during a quiet period.
    func bytesArriving(within seconds: Double) -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        var got = 0
        while !connectionClosed {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            var pfd = pollfd(fd: raw.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, left * 1000))) == 1 else { break }
            let n = pump()
            if n <= 0 { break }
            got += n
        }
        return got
    }

    /// Half-closes both directions with a FIN: the client goes away (the fd itself is closed
    /// when the `RawClient` is released).
    func close() { shutdown(raw.fd, Int32(SHUT_RDWR)) }

    var tailText: String { String(String(decoding: body.suffix(200), as: UTF8.self).debugDescription) }

    // MARK: - Framing

    private func feedWire(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if ending != .open {
            bytesAfterBody += bytes.count
            return
        }
        switch framing {
        case .closeDelimited:
            deliver(bytes[...])
        case .contentLength:
            let n = min(bytes.count, lengthRemaining)
            deliver(bytes[0..<n])
            lengthRemaining -= n
            bytesAfterBody += bytes.count - n
            if lengthRemaining == 0 { ending = .contentLengthComplete }
        case .chunked:
            wire.append(contentsOf: bytes)
            decodeChunks()
        }
    }

    private func decodeChunks() {
        var pos = 0
        defer { wire.removeFirst(pos) }
        while pos < wire.count {
            switch chunkState {
            case .size:
                guard let end = HTTPTestResponse.find(wire, [13, 10], from: pos) else { return }
                let text = String(decoding: wire[pos..<end], as: UTF8.self)
                let sizeText = text.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    // A framing error is as fatal as a reset: nothing after it can be trusted.
                    ending = .eofWithoutTerminator
                    bytesAfterBody += wire.count - pos
                    pos = wire.count
                    return
                }
                pos = end + 2
                if size == 0 {
                    chunkState = .trailers
                } else {
                    chunkSizes.append(size)
                    chunkRemaining = size
                    chunkState = .data
                }
            case .data:
                let n = min(chunkRemaining, wire.count - pos)
                deliver(wire[pos..<pos + n])
                pos += n
                chunkRemaining -= n
                if chunkRemaining == 0 { chunkState = .dataCRLF }
            case .dataCRLF:
                guard wire.count - pos >= 2 else { return }
                pos += 2
                chunkState = .size
            case .trailers:
                guard let end = HTTPTestResponse.find(wire, [13, 10], from: pos) else { return }
                let isLast = end == pos
                pos = end + 2
                if isLast {
                    chunkState = .done
                    ending = .terminatingChunk
                    bytesAfterBody += wire.count - pos
                    pos = wire.count
                }
            case .done:
                bytesAfterBody += wire.count - pos
                pos = wire.count
            }
        }
    }

    // MARK: - Event stream (WHATWG HTML §9.2.6)

    private func deliver(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        body.append(contentsOf: bytes)
        if atStreamStart {
            // One leading BOM is dropped; it may arrive split across reads.
            bomProbe.append(contentsOf: bytes)
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            if bomProbe.count < 3 && bom.starts(with: bomProbe) { return }
            atStreamStart = false
            let probe = bomProbe
            bomProbe = []
            probe[(probe.starts(with: bom) ? 3 : 0)...].withUnsafeBufferPointer { parse($0) }
            return
        }
        bytes.withUnsafeBufferPointer { parse($0) }
    }

    private func parse(_ buf: UnsafeBufferPointer<UInt8>) {
        var i = buf.startIndex
        while i < buf.endIndex {
            let b = buf[i]
            if pendingCR {
                pendingCR = false
                if b == 0x0A { i += 1; continue }  // the LF of a CRLF
            }
            // Fast path: copy up to the next CR or LF.
            var j = i
            while j < buf.endIndex && buf[j] != 0x0A && buf[j] != 0x0D { j += 1 }
            if j > i { line.append(contentsOf: buf[i..<j]) }
            if j == buf.endIndex { return }
            if buf[j] == 0x0D { pendingCR = true }
            processLine()
            i = j + 1
        }
    }

    private func processLine() {
        let l = line
        line.removeAll(keepingCapacity: true)
        if l.isEmpty { dispatch(); return }
        if l[0] == UInt8(ascii: ":") {
            let text = String(decoding: l[1...], as: UTF8.self)
            comments.append(text)
            items.append(.comment(text))
            return
        }
        let name: String
        var value: ArraySlice<UInt8>
        if let c = l.firstIndex(of: UInt8(ascii: ":")) {
            name = String(decoding: l[..<c], as: UTF8.self)
            value = l[(c + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = String(decoding: l, as: UTF8.self)
            value = []
        }
        let text = String(decoding: value, as: UTF8.self)
        switch name {
        case "event":
            eventType = text
        case "data":
            dataBuffer += text + "\n"
            dataSeen = true
        case "id":
            if !value.contains(0) {
                lastEventIDBuffer = text
                eventHadID = true
            }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let ms = Int(text) {
                retry = ms
                retryCount += 1
            }
        default:
            break  // unknown fields are ignored
        }
    }

    private func dispatch() {
        defer {
            dataBuffer = ""
            dataSeen = false
            eventType = ""
            eventHadID = false
        }
        guard !dataBuffer.isEmpty else { return }
        var data = dataBuffer
        if data.hasSuffix("\n") { data.removeLast() }
        events.append(Event(type: eventType.isEmpty ? "message" : eventType, data: data,
                            lastEventID: lastEventIDBuffer, hadID: eventHadID))
        items.append(.event(events.count - 1))
    }
}
