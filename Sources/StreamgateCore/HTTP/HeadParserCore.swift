/// The first line of a head (request line or status line), parsed by its own grammar.
protocol HeadStartLine {
    /// Status for a malformed head: 400 for requests, 502 for responses from an upstream.
    static var malformedStatus: Int { get }
    /// Status for a head over the size limits: 431 for requests, 502 for responses.
    static var tooLargeStatus: Int { get }
    /// Longest start line accepted, terminator excluded.
    static func maxLineBytes(_ limits: HTTPLimits) -> Int
    /// Parses a complete start line (terminator already removed).
    static func parse(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError) -> Self
    /// Looks at an incomplete start line so garbage (a TLS hello on a plaintext port, say) is
    /// refused at once instead of after a timeout. Must accept every prefix of a valid line.
    static func checkPartial(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError)
    /// The error for a start line that outgrew `maxLineBytes` (given the bytes seen so far).
    static func lineTooLong(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) -> HTTPError
}

/// Line splitting, limits and field-line grammar shared by request and response heads.
///
/// Line endings: CRLF, and bare LF as a whole line terminator. RFC 9112 §2.2 lets a recipient
/// accept a lone LF, and enough real clients (netcat, hand-written scripts, some embedded
/// stacks) send it that refusing would be hostile; it is safe here because the gateway never
/// forwards the received head bytes, it re-serialises every head with CRLF, so no downstream
/// parser can read those lines differently. A CR that is not immediately followed by LF is
/// always refused (bare CR is the classic line-splitting ambiguity), which falls out of the
/// grammar: after a trailing CR is dropped, no rule accepts a CR.
struct HeadParserCore<Start: HeadStartLine> {
    let limits: HTTPLimits
    private(set) var start: Start?
    private(set) var headers = HTTPHeaders()
    /// The unfinished line carried between feeds (only when a line straddles two feeds).
    private var line: [UInt8] = []
    /// Head bytes consumed so far, for `maxHeaderBytes`.
    private var headBytes = 0
    private var emptyLinesBeforeStart = 0
    /// Whether any byte of the current head (beyond leading empty lines) was consumed.
    private var started = false
    private(set) var isComplete = false
    private var failure: HTTPError?

    /// RFC 9112 §2.2 asks servers to ignore "at least one" empty line before the request
    /// line (left over after a body by some clients); a few are tolerated, a stream of them is not.
    static var maxEmptyLinesBeforeStart: Int { 4 }

    /// Most a parser reserves for field bytes before it has seen them; longer heads grow.
    static var initialFieldBytes: Int { 4096 }

    init(limits: HTTPLimits) { self.limits = limits }

    var hasPartialHead: Bool { started && !isComplete }

    mutating func reset() {
        start = nil
        headers = HTTPHeaders()
        line.removeAll(keepingCapacity: true)
        headBytes = 0
        emptyLinesBeforeStart = 0
        started = false
        isComplete = false
        failure = nil
    }

    /// Hands the fields over without copying their storage.
    mutating func takeHeaders() -> HTTPHeaders {
        var h = HTTPHeaders()
        swap(&h, &headers)
        return h
    }

    private func malformed(_ reason: String) -> HTTPError { HTTPError(status: Start.malformedStatus, reason: reason) }
    private func tooLarge(_ reason: String) -> HTTPError { HTTPError(status: Start.tooLargeStatus, reason: reason) }

    /// Consumes bytes up to and including the end of the head; returns how many were used.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        if let failure { throw failure }
        if isComplete { return 0 }
        do {
            return try consume(bytes)
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(HTTPError) -> Int {
        let n = bytes.count
        if headers.byteCapacity == 0 {
            // The head is usually all in this feed: its fields fit in what is buffered (capped,
            // since a buffer may hold pipelined requests), plus room for the few fields the
            // gateway adds to a response head.
            headers.reserveCapacity(bytes: min(n, Self.initialFieldBytes) + 192, fields: 16)
        }
        var i = 0
        while i < n {
            let j = HTTPByte.firstLF(in: bytes, from: i)
            if j == n {
                try keepPartial(bytes.slice(i, n))
                return n
            }
            try checkLimits(length: line.count + (j - i), piece: bytes.slice(i, j))
            if line.isEmpty {
                try process(bytes.slice(i, j))
            } else {
                line.append(contentsOf: bytes.slice(i, j))
                // Swap the buffer out so `process` may mutate self; swapped back to keep its capacity.
                var carried: [UInt8] = []
                swap(&carried, &line)
                defer {
                    carried.removeAll(keepingCapacity: true)
                    line = carried
                }
                try withBytes(carried) { (l) throws(HTTPError) in try process(l) }
            }
            i = j &+ 1
            if isComplete { return i }
        }
        return n
    }

    /// Limits for a line whose first `length` bytes (before any LF) are known; `piece` is the
    /// part of them not yet in `line`.
    private mutating func checkLimits(length: Int, piece: UnsafeRawBufferPointer) throws(HTTPError) {
        if start == nil {
            // The trailing CR is not part of the line proper; allow for it.
            let max = Start.maxLineBytes(limits) + 1
            if length > max {
                // Keep only what the diagnosis needs, never the whole oversized input.
                line.append(contentsOf: piece.slice(0, Swift.max(0, Swift.min(piece.count, max - line.count))))
                throw line.withUnsafeBytes { Start.lineTooLong($0, limits: limits) }
            }
        }
        if headBytes + length + 1 > limits.maxHeaderBytes { throw tooLarge("head too large") }
    }

    private mutating func keepPartial(_ piece: UnsafeRawBufferPointer) throws(HTTPError) {
        try checkLimits(length: line.count + piece.count, piece: piece)
        line.append(contentsOf: piece)
        if start == nil {
            // A lone CR may yet be an empty line: nothing has started.
            if line.count == 1 && line[0] == HTTPByte.cr { return }
            started = true
            let limits = limits
            try withBytes(line) { (l) throws(HTTPError) in try Start.checkPartial(l, limits: limits) }
        } else {
            started = true
        }
    }

    /// Handles one complete line, LF removed.
    private mutating func process(_ raw: UnsafeRawBufferPointer) throws(HTTPError) {
        var l = raw
        if let last = l.last, last == HTTPByte.cr { l = l.slice(0, l.count - 1) }
        if start == nil {
            if l.isEmpty {
                emptyLinesBeforeStart += 1
                if emptyLinesBeforeStart > Self.maxEmptyLinesBeforeStart { throw malformed("too many empty lines") }
                return
            }
            started = true
            headBytes += raw.count + 1
            start = try Start.parse(l, limits: limits)
            return
        }
        headBytes += raw.count + 1
        if l.isEmpty {
            isComplete = true
            return
        }
        if headers.count >= limits.maxHeaderCount { throw tooLarge("too many header fields") }
        try parseField(l)
    }

    /// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5).
    private mutating func parseField(_ l: UnsafeRawBufferPointer) throws(HTTPError) {
        let n = l.count
        // Whitespace at the start of a field line is obs-fold, or (right after the start line)
        // an attempt to hide a field from some parsers; both are refused (RFC 9112 §2.2, §5.2).
        if HTTPByte.isOWS(l[0]) { throw malformed(headers.isEmpty ? "whitespace before first field" : "obs-fold") }
        var k = 0
        while k < n && HTTPByte.isToken(l[k]) { k &+= 1 }
        guard k < n, l[k] == HTTPByte.colon else {
            if k < n && HTTPByte.isOWS(l[k]) { throw malformed("whitespace before colon") }
            throw malformed("invalid field name")
        }
        guard k > 0 else { throw malformed("empty field name") }
        var vs = k &+ 1
        var ve = n
        while vs < ve && HTTPByte.isOWS(l[vs]) { vs &+= 1 }
        while ve > vs && HTTPByte.isOWS(l[ve &- 1]) { ve &-= 1 }
        let (valid, nonASCII) = HTTPByte.scanFieldContent(l, from: vs, to: ve)
        guard valid else { throw malformed("invalid field value") }
        let valueBytes = l.slice(vs, ve)
        if !nonASCII || String(validating: valueBytes, as: UTF8.self) != nil {
            headers.appendValidatedLine(l.slice(0, ve), nameCount: k, valueStart: vs)
        } else if Start.malformedStatus == 400 {
            // Values are read as UTF-8 strings by policy code (identity, CORS, tokens):
            // non-UTF-8 obs-text could not be handled intact, so a request carrying it is
            // refused rather than silently altered.
            throw malformed("invalid field value encoding")
        } else {
            // Upstream responses: legacy Latin-1 values (Content-Disposition filenames) should
            // not turn a working response into a 502; the odd bytes become U+FFFD.
            var repaired = String(decoding: valueBytes, as: UTF8.self)
            repaired.withUTF8 { headers.appendValidated(name: l.slice(0, k), value: UnsafeRawBufferPointer($0)) }
        }
    }
}

/// `Array.withUnsafeBytes` with a typed-throws body (the stdlib's is untyped `rethrows`).
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(HTTPError) -> R) throws(HTTPError) -> R {
    let result: Result<R, HTTPError> = array.withUnsafeBytes { p in Result { () throws(HTTPError) in try body(p) } }
    return try result.get()
}
