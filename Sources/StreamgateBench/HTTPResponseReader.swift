
/// What the load generator needs from a response head.
struct ResponseHeadInfo: Equatable {
    var status: Int
    var chunked = false
    var contentLength: Int?
    var close = false
    var eventStream = false

    static let terminator: [UInt8] = [13, 10, 13, 10]

    /// Parses the head (status line + fields, without the blank line) without building Strings.
    static func parse(_ b: UnsafeRawBufferPointer) -> ResponseHeadInfo? {
        guard b.count >= 12, b[0] == 72, b[1] == 84, b[2] == 84, b[3] == 80, b[4] == 47 else { return nil }  // "HTTP/"
        var status = 0
        for i in 9..<12 {
            let d = b[i]
            guard d >= 48 && d <= 57 else { return nil }
            status = status * 10 + Int(d - 48)
        }
        var info = ResponseHeadInfo(status: status)
        if b[5] == 49, b[6] == 46, b[7] == 48 { info.close = true }  // HTTP/1.0 default
        var lineStart = 0
        // Skip the status line.
        while lineStart < b.count && b[lineStart] != 10 { lineStart += 1 }
        lineStart += 1
        while lineStart < b.count {
            var lineEnd = lineStart
            while lineEnd < b.count && b[lineEnd] != 10 { lineEnd += 1 }
            var end = lineEnd
            if end > lineStart && b[end - 1] == 13 { end -= 1 }
            var colon = lineStart
            while colon < end && b[colon] != 58 { colon += 1 }
            if colon < end {
                var vs = colon + 1
                while vs < end && (b[vs] == 32 || b[vs] == 9) { vs += 1 }
                let name = UnsafeRawBufferPointer(rebasing: b[lineStart..<colon])
                let value = UnsafeRawBufferPointer(rebasing: b[vs..<end])
                if equalsLower(name, "transfer-encoding") {
                    if contains(value, "chunked") { info.chunked = true }
                } else if equalsLower(name, "content-length") {
                    var n = 0
                    var ok = !value.isEmpty
                    for d in value { if d >= 48 && d <= 57 { n = n &* 10 &+ Int(d - 48) } else if d != 32 && d != 9 { ok = false } }
                    if ok { info.contentLength = n }
                } else if equalsLower(name, "connection") {
                    if contains(value, "close") { info.close = true }
                    if contains(value, "keep-alive") { info.close = false }
                } else if equalsLower(name, "content-type") {
                    if contains(value, "text/event-stream") { info.eventStream = true }
                }
            }
            lineStart = lineEnd + 1
        }
        return info
    }

    /// How the body is delimited (RFC 9112 §6.3, for a GET).
    var framing: BodyReader.Framing {
        if status == 204 || status == 304 || (100..<200).contains(status) { return .length(0) }
        if chunked { return .chunked }
        if let contentLength { return .length(contentLength) }
        return .untilClose
    }

    static func equalsLower(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard b.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<b.count {
            var c = b[i]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != p[i] { return false }
        }
        return true
    }

    static func contains(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard b.count >= n else { return false }
        let p = s.utf8Start
        outer: for start in 0...(b.count - n) {
            for k in 0..<n {
                var c = b[start + k]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c != p[k] { continue outer }
            }
            return true
        }
        return false
    }
}

/// Decodes a response body (chunked, fixed length or until close) incrementally, handing the
/// payload bytes to a sink. Works on any split of the input, one byte at a time included.
struct BodyReader {
    enum Framing: Equatable { case chunked, length(Int), untilClose }

    private enum State {
        case size, sizeExtension, sizeLF, data, dataCR, dataLF
        case trailerStart, trailerLine, finalLF
        case fixed, untilClose
        case done, failed
    }

    private var state: State
    private var remaining = 0
    private var digits = 0

    init(_ framing: Framing) {
        switch framing {
        case .chunked: state = .size
        case .length(let n): state = n == 0 ? .done : .fixed; remaining = n
        case .untilClose: state = .untilClose
        }
    }

    var isDone: Bool { if case .done = state { return true }; return false }
    var isFailed: Bool { if case .failed = state { return true }; return false }
    var isUntilClose: Bool { if case .untilClose = state { return true }; return false }

    /// Consumes `bytes`; returns how many belonged to this body (the rest is the next response).
    @discardableResult
    mutating func feed(_ bytes: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Void) -> Int {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .done, .failed:
                return i
            case .untilClose:
                sink(UnsafeRawBufferPointer(rebasing: bytes[i..<n]))
                return n
            case .fixed, .data:
                let take = min(remaining, n - i)
                sink(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                remaining -= take
                if remaining == 0 {
                    if case .fixed = state { state = .done } else { state = .dataCR }
                }
            case .size:
                let c = bytes[i]
                i += 1
                if let d = Self.hexValue(c) {
                    digits += 1
                    if digits > 15 { state = .failed; return i }
                    remaining = remaining &* 16 &+ d
                } else if digits > 0 && (c == 59 || c == 32 || c == 9) {
                    state = .sizeExtension
                } else if digits > 0 && c == 13 {
                    state = .sizeLF
                } else if digits > 0 && c == 10 {
                    endOfSizeLine()
                } else {
                    state = .failed
                }
            case .sizeExtension:
                let c = bytes[i]
                i += 1
                if c == 13 { state = .sizeLF } else if c == 10 { endOfSizeLine() }
            case .sizeLF:
                guard bytes[i] == 10 else { state = .failed; return i }
                i += 1
                endOfSizeLine()
            case .dataCR:
                let c = bytes[i]
                i += 1
                if c == 13 { state = .dataLF } else if c == 10 { state = .size } else { state = .failed }
            case .dataLF:
                guard bytes[i] == 10 else { state = .failed; return i }
                i += 1
                state = .size
            case .trailerStart:
                let c = bytes[i]
                i += 1
                if c == 13 { state = .finalLF } else if c == 10 { state = .done } else { state = .trailerLine }
            case .trailerLine:
                if bytes[i] == 10 { state = .trailerStart }
                i += 1
            case .finalLF:
                guard bytes[i] == 10 else { state = .failed; return i }
                i += 1
                state = .done
            }
        }
        return i
    }

    private mutating func endOfSizeLine() {
        digits = 0
        if remaining == 0 { state = .trailerStart } else { state = .data }
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c) - 48
        case 65...70: return Int(c) - 55
        case 97...102: return Int(c) - 87
        default: return nil
        }
    }
}

/// Counts SSE events and pulls `"sent_us":N` out of their data for latency, byte by byte, with
/// no allocation. Line ends may be CR, LF or CRLF (WHATWG SSE); an event is dispatched at a blank
/// line only if it had a `data` line, as a browser would.
struct SSEScanner {
    private static let pattern: [UInt8] = Array("\"sent_us\":".utf8)
    private static let dataPrefix: [UInt8] = Array("data:".utf8)

    private var linePos = 0
    private var lineIsData = false
    private var lineIsComment = false
    private var afterCR = false
    private var eventHasData = false
    private var match = 0
    private var parsingNumber = false
    private var number: Int64 = 0
    private var sentMicros: Int64 = -1

    /// Events dispatched and comment lines seen since the last `take`.
    private(set) var events = 0
    private(set) var comments = 0

    /// Scans `bytes`; each event carrying `sent_us` records `nowMicros - sent_us` into `histogram`.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, nowMicros: Int64, histogram: inout LatencyHistogram) {
        for c in bytes {
            if afterCR {
                afterCR = false
                if c == 10 { continue }
            }
            if c == 10 || c == 13 {
                if c == 13 { afterCR = true }
                endLine(nowMicros: nowMicros, histogram: &histogram)
                continue
            }
            if linePos < 5 {
                if linePos == 0 && c == 58 { lineIsComment = true }
                lineIsData = (linePos == 0 || lineIsData) && c == Self.dataPrefix[linePos]
            }
            linePos &+= 1
            guard lineIsData else { continue }
            if parsingNumber {
                if c >= 48 && c <= 57 { number = number &* 10 &+ Int64(c - 48); continue }
                parsingNumber = false
                sentMicros = number
            }
            if c == Self.pattern[match] {
                match += 1
                if match == Self.pattern.count {
                    match = 0
                    parsingNumber = true
                    number = 0
                }
            } else {
                // The pattern's only repeated byte is its leading quote.
                match = (c == 34) ? 1 : 0
            }
        }
    }

    private mutating func endLine(nowMicros: Int64, histogram: inout LatencyHistogram) {
        if parsingNumber { parsingNumber = false; sentMicros = number }
        if linePos == 0 {
            if eventHasData {
                events += 1
                if sentMicros >= 0 { histogram.record(nowMicros - sentMicros) }
            }
            eventHasData = false
            sentMicros = -1
        } else if lineIsComment {
            comments += 1
        } else if linePos >= 5 && lineIsData {
            eventHasData = true
        } else if linePos == 4 && lineIsData {
            // "data" with no colon is a data line with an empty value.
            eventHasData = true
        }
        linePos = 0
        lineIsData = false
        lineIsComment = false
        match = 0
    }

    /// Returns and resets the counters.
    mutating func take() -> (events: Int, comments: Int) {
        defer { events = 0; comments = 0 }
        return (events, comments)
    }
}
