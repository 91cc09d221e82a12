/// What to do with the front of the buffered bytes of a message body.
public enum BodyStep: Equatable, Sendable {
    /// The next N bytes are payload: forward them (1 <= N <= available).
    case data(Int)
    /// The next N bytes are framing (chunk-size line, CRLF, trailers): drop them.
    case skip(Int)
    /// Nothing can be decided until more bytes arrive.
    case needMore
    /// The message is complete after dropping N framing bytes (0 for Content-Length).
    case end(skip: Int)
}

/// Body framing decoder for one message, built for a zero-copy relay.
///
/// The caller keeps the bytes in its own buffer and asks what to do with the front of it.
/// Payload bytes are never copied or inspected; only chunk-size lines, CRLFs and trailers are
/// parsed. Each returned step is taken as done: call `next` again only after forwarding or
/// dropping the bytes it named. Framing is processed as far as the prefix allows in one step,
/// so `0\r\n\r\n` or `\r\n` + the next size line cost one call, not one per byte.
///
/// Chunked framing is parsed strictly (RFC 9112 §7.1): lines end in CRLF only, since a body
/// is where LF-vs-CRLF disagreements between parsers turn into smuggling; hex sizes of at
/// most 16 digits (so leading zeros cannot be streamed forever) with overflow checks; chunk
/// extensions bounded by `maxChunkExtensionBytes`; trailers bounded by `maxHeaderBytes` and
/// dropped (the gateway does not forward trailer fields).
public struct BodyDecoder {
    private enum State: Equatable {
        case none
        case length(remaining: UInt64)
        case untilClose
        /// Hex digits of a chunk size so far.
        case size(value: UInt64, digits: Int)
        /// After the size: BWS, `;` extensions; counts extension bytes.
        case extensions(value: UInt64, bytes: Int, sawSemicolon: Bool)
        /// CR of the chunk-size line seen, LF must follow.
        case sizeLF(value: UInt64)
        case data(remaining: UInt64)
        case dataCR
        case dataLF
        /// At the start of a trailer line or of the final empty line.
        case trailerLineStart
        /// Inside a trailer field line; `inValue` once the colon was seen.
        case trailerLine(inValue: Bool)
        case trailerLF(final: Bool)
        case done
    }

    private var state: State
    private let limits: HTTPLimits
    private let errorStatus: Int
    private var trailerBytes = 0
    /// Set on the first framing error: the stream cannot be trusted after it. A static
    /// string, not the error itself, keeps the decoder plain data: the relay copies it in and
    /// out on every read, and a copy with a `String` inside goes through retain and release.
    private var failure: StaticString?

    /// Errors are 400 for requests and 502 for responses.
    public init(framing: BodyFraming, limits: HTTPLimits, isRequest: Bool) {
        self.limits = limits
        errorStatus = isRequest ? 400 : 502
        switch framing {
        case .none: state = .none
        case .contentLength(let n): state = n == 0 ? .done : .length(remaining: n)
        case .chunked: state = .size(value: 0, digits: 0)
        case .untilClose: state = .untilClose
        }
    }

    /// Whether the whole body (and its framing) has been accounted for.
    public var isComplete: Bool {
        switch state {
        case .done, .none: true
        default: false
        }
    }

    /// Called when the peer closed its side. Returns true if that legitimately ends the body
    /// (`.untilClose`, or a body already complete), false if the message was truncated.
    public mutating func peerClosed() -> Bool {
        switch state {
        case .untilClose, .done, .none:
            state = .done
            return true
        default:
            return false
        }
    }

    /// What the chunked state machine throws; `next` turns it into the `HTTPError` callers see.
    private struct FramingFailure: Error {
        let reason: StaticString
        init(_ reason: StaticString) { self.reason = reason }
    }

    private func fail(_ reason: StaticString) -> HTTPError { HTTPError(status: errorStatus, reason: reason.description) }

    /// `prefix`: a contiguous view of the first min(available, 4096) buffered bytes;
    /// `available`: total buffered bytes (may exceed `prefix.count`).
    public mutating func next(prefix: UnsafeRawBufferPointer, available: Int) throws(HTTPError) -> BodyStep {
        if let failure { throw fail(failure) }
        switch state {
        case .none, .done:
            state = .done
            return .end(skip: 0)
        case .length(let remaining):
            guard available > 0 else { return .needMore }
            let n = UInt64(available) < remaining ? available : Int(remaining)
            let left = remaining - UInt64(n)
            state = left == 0 ? .done : .length(remaining: left)
            return .data(n)
        case .untilClose:
            return available > 0 ? .data(available) : .needMore
        case .data(let remaining):
            guard available > 0 else { return .needMore }
            let n = UInt64(available) < remaining ? available : Int(remaining)
            let left = remaining - UInt64(n)
            state = left == 0 ? .dataCR : .data(remaining: left)
            return .data(n)
        default:
            do {
                return try framing(prefix)
            } catch {
                failure = error.reason
                throw fail(error.reason)
            }
        }
    }

    /// Runs the chunked state machine over framing bytes at the front of `prefix`.
    private mutating func framing(_ p: UnsafeRawBufferPointer) throws(FramingFailure) -> BodyStep {
        let n = p.count
        var i = 0
        // Fast path for how chunks nearly always arrive: the CRLF after a chunk's data and a
        // bare size line (`c8\r\n`), each whole in the prefix. Anything else (extensions,
        // a split line, the last chunk, an error) falls through to the state machine below,
        // from the same state and offset, so both paths accept and reject the same bytes.
        if case .dataCR = state, n >= 2, p[0] == HTTPByte.cr, p[1] == HTTPByte.lf {
            state = .size(value: 0, digits: 0)
            i = 2
        }
        if case .size(0, 0) = state, let (value, end) = Self.bareSizeLine(p, from: i) {
            state = .data(remaining: value)
            return .skip(end)
        }
        while i < n {
            let b = p[i]
            switch state {
            case .size(let value, let digits):
                if let h = HTTPByte.hexValue(b) {
                    guard digits < 16 else { throw FramingFailure("chunk size too large") }
                    state = .size(value: value << 4 | h, digits: digits + 1)
                } else {
                    guard digits > 0 else { throw FramingFailure("invalid chunk size") }
                    if b == HTTPByte.cr {
                        state = .sizeLF(value: value)
                    } else if b == HTTPByte.semicolon || HTTPByte.isOWS(b) {
                        state = .extensions(value: value, bytes: 1, sawSemicolon: b == HTTPByte.semicolon)
                    } else {
                        throw FramingFailure("invalid chunk size")
                    }
                }
            case .extensions(let value, let bytes, let sawSemicolon):
                if b == HTTPByte.cr {
                    // `chunk-ext = *( BWS ";" ... )`: whitespace alone is not an extension.
                    guard sawSemicolon else { throw FramingFailure("invalid chunk extension") }
                    state = .sizeLF(value: value)
                } else {
                    guard HTTPByte.isFieldContent(b) else { throw FramingFailure("invalid chunk extension") }
                    guard bytes < limits.maxChunkExtensionBytes else { throw FramingFailure("chunk extensions too long") }
                    if !sawSemicolon && !HTTPByte.isOWS(b) && b != HTTPByte.semicolon { throw FramingFailure("invalid chunk extension") }
                    state = .extensions(value: value, bytes: bytes + 1, sawSemicolon: sawSemicolon || b == HTTPByte.semicolon)
                }
            case .sizeLF(let value):
                guard b == HTTPByte.lf else { throw FramingFailure("chunk size line must end in CRLF") }
                if value == 0 {
                    state = .trailerLineStart
                } else {
                    state = .data(remaining: value)
                    return .skip(i + 1)
                }
            case .dataCR:
                guard b == HTTPByte.cr else { throw FramingFailure("chunk data not followed by CRLF") }
                state = .dataLF
            case .dataLF:
                guard b == HTTPByte.lf else { throw FramingFailure("chunk data not followed by CRLF") }
                state = .size(value: 0, digits: 0)
            case .trailerLineStart:
                if b == HTTPByte.cr {
                    state = .trailerLF(final: true)
                } else {
                    guard HTTPByte.isToken(b) else { throw FramingFailure("invalid trailer field") }
                    state = .trailerLine(inValue: false)
                }
                try countTrailer()
            case .trailerLine(let inValue):
                if b == HTTPByte.cr {
                    guard inValue else { throw FramingFailure("invalid trailer field") }
                    state = .trailerLF(final: false)
                } else if inValue {
                    guard HTTPByte.isFieldContent(b) else { throw FramingFailure("invalid trailer field") }
                } else if b == HTTPByte.colon {
                    state = .trailerLine(inValue: true)
                } else {
                    guard HTTPByte.isToken(b) else { throw FramingFailure("invalid trailer field") }
                }
                try countTrailer()
            case .trailerLF(let final):
                guard b == HTTPByte.lf else { throw FramingFailure("trailer line must end in CRLF") }
                try countTrailer()
                if final {
                    state = .done
                    return .end(skip: i + 1)
                }
                state = .trailerLineStart
            default:
                preconditionFailure("not a framing state")
            }
            i &+= 1
        }
        return n > 0 ? .skip(n) : .needMore
    }

    /// A chunk-size line of 1-16 hex digits and CRLF, no extensions, for a size above zero,
    /// whole in `p` from `start`: the size and the offset just past the LF. Nil otherwise.
    @inline(__always)
    private static func bareSizeLine(_ p: UnsafeRawBufferPointer, from start: Int) -> (UInt64, Int)? {
        let n = p.count
        var i = start
        var value: UInt64 = 0
        while i < n, i &- start < 16, let h = HTTPByte.hexValue(p[i]) {
            value = value << 4 | h
            i &+= 1
        }
        guard i > start, value > 0, i &+ 1 < n, p[i] == HTTPByte.cr, p[i &+ 1] == HTTPByte.lf else { return nil }
        return (value, i &+ 2)
    }

    private mutating func countTrailer() throws(FramingFailure) {
        trailerBytes += 1
        if trailerBytes > limits.maxHeaderBytes { throw FramingFailure("trailers too large") }
    }
}
