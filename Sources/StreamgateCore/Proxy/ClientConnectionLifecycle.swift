/// The life of one client connection, from accept to close, as a pure state machine: which
/// request-reading, exchange and closing phase it is in, when its input is parsed, when the
/// head deadline runs, and how it ends (lingering close, or reset after a broken exchange).
/// It reads no socket and no clock: the connection (`Streamgate/ClientConnection.swift`)
/// reports what happened with `handle(_:)` and performs the actions returned, in order.
///
/// Rules:
/// - Heads: read one at a time; while an exchange (or the session store, or the fleet-wide
///   stream count) has the connection, further input waits. A head's first bytes start the
///   `header_timeout` deadline (a client trickling bytes must not re-arm a read timeout), a
///   complete head cancels it; the deadline passing mid-head answers 408, and so does a read
///   timeout mid-head (between heads the read timeout just closes, as keep-alive expiry).
/// - Input passes: `processInput` asks the owner to parse what is buffered. A pass can run
///   requests to completion synchronously (an error answered at once, a pipelined request),
///   and each of those asks for input again: while a pass runs such requests are only noted,
///   and `inputPassFinished` answers with another `processInput` if any was, so passes never
///   nest and pipelined requests are taken in order.
/// - Ends: a response that closes the connection is flushed, then the write side is shut and
///   input discarded for a while (`lingering`, RFC 9112 §9.6: closing with unread input sends
///   an RST that can destroy the response before the client reads it). A broken exchange
///   (`exchangeAborted`) lets what was relayed go out, then resets. Once `closed`, every
///   event is ignored: callbacks already scheduled may still arrive.
/// - Drain: an idle connection (no exchange, no partial head, nothing buffered) closes at
///   once; a busy one finishes its exchange and closes after it.
/// - An event that cannot happen in the current phase (an exchange starting while one runs,
///   a head parsed while lingering) is a bug in the owner: it traps.
public struct ClientConnectionLifecycle: Sendable {
    public enum Phase: Sendable, Equatable {
        /// A `proxy_protocol` listener: waiting for the PROXY header, before any request.
        case readingProxyHeader
        case readingHead
        /// Waiting for the session store; client reads are paused.
        case authenticating
        /// Waiting for the fleet-wide stream count; reading stays on so that a client leaving
        /// meanwhile is noticed.
        case admitting
        case exchanging
        /// Final response queued; waiting for it to flush before half-closing.
        case closingAfterFlush
        /// Write side shut; discarding input until EOF or the linger deadline.
        case lingering
        /// A broken exchange: what was relayed still goes out, then the socket is reset.
        case abortingAfterFlush
        case closed
    }

    public enum Event: Sendable, Equatable {
        /// Input arrived (or may be buffered): `buffered` bytes wait; `bodyWanted`: the running
        /// exchange still reads a request body.
        case bytesAvailable(buffered: Int, bodyWanted: Bool)
        /// The pass asked for by `processInput` is done.
        case inputPassFinished
        /// The PROXY header was read and the client it names admitted.
        case proxyHeaderRead
        /// A pass consumed bytes of a head that is not complete yet.
        case headIncomplete
        /// A complete request head was parsed: a request starts.
        case headParsed
        case authenticationStarted
        /// The session store answered (the request then gets an exchange or a response).
        case authenticationFinished
        case admissionStarted
        /// The fleet-wide count answered (the request then gets an exchange or a 429).
        case admissionFinished
        /// `readsBody`: the request has a body (its reads are bounded by `header_timeout`).
        case exchangeStarted(readsBody: Bool)
        /// The exchange wrote its whole response; `reusable`: the connection may carry another.
        case exchangeFinished(reusable: Bool)
        /// The exchange failed before its response started; the gateway answers instead.
        case exchangeAbandoned
        /// The exchange broke mid-response. `flushFirst`: what was relayed goes out before the reset.
        case exchangeAborted(flushFirst: Bool)
        /// The gateway wrote a response of its own; `close`: the connection ends after it.
        case responseWritten(close: Bool)
        /// Output fell to the low watermark; `empty`: all of it was written.
        case outputDrained(empty: Bool)
        case endOfStream
        case readTimeout
        /// A reset, a write timeout, a TLS failure.
        case transportFailed
        case headDeadlinePassed
        /// `inputBuffered`: bytes of a next request wait unparsed.
        case drainBegun(inputBuffered: Bool)
        /// Close at once (a refused PROXY header, a client the exchange saw leave, shutdown).
        case closeRequested
    }

    /// Which read timeout applies (the owner maps these to its settings).
    public enum ReadTimeout: Sendable, Equatable {
        /// `header_timeout`: the first head, the PROXY header, or a request body.
        case header
        /// `keepalive_timeout`: between requests.
        case keepAlive
        case none
    }

    /// What the running exchange is told.
    public enum ExchangeNotice: Sendable, Equatable {
        case clientReadable
        case clientEnded
        case clientTimedOut
        case clientDrained
        case drain
    }

    public enum Action: Sendable, Equatable {
        case setReadTimeout(ReadTimeout)
        /// Run one pass over the buffered input (PROXY header, then heads), then report
        /// `inputPassFinished`.
        case processInput
        case pauseReading
        case resumeReading
        case armHeadDeadline
        case cancelHeadDeadline
        case notifyExchange(ExchangeNotice)
        /// Answer 408 and close (a head that did not arrive whole in time).
        case answerRequestTimeout
        /// Log that the PROXY header did not arrive in time (a `closeNow` follows).
        case reportProxyHeaderTimeout
        /// Wait for output to drain (low watermark 0); report `outputDrained` when it has
        /// (at once if it already is empty).
        case closeWhenFlushed
        /// Stop reading and wait for output to drain, then reset.
        case resetWhenFlushed
        /// Shut the write side, discard input, read (and discard) with the linger timeout.
        case startLinger
        case discardInput
        /// Close the socket (telling a running exchange the client is gone).
        case closeNow
        /// Reset the socket (RST).
        case resetNow
    }

    /// The actions one event asks for, in order: at most three, kept inline (an array would
    /// be allocated for most events of every request).
    public struct Actions: RandomAccessCollection, ExpressibleByArrayLiteral, Equatable, Sendable, CustomStringConvertible {
        public static let capacity = 4
        private var a0 = Action.processInput, a1 = Action.processInput, a2 = Action.processInput, a3 = Action.processInput
        public private(set) var count = 0

        public init() {}

        /// For tests and the rare caller: a literal's elements arrive as an array, which is
        /// allocated and freed per use. `handle` builds its answers with the inits below.
        public init(arrayLiteral elements: Action...) {
            for e in elements { append(e) }
        }

        public init(_ a: Action) { append(a) }
        public init(_ a: Action, _ b: Action) { append(a); append(b) }
        public init(_ a: Action, _ b: Action, _ c: Action) { append(a); append(b); append(c) }

        public var startIndex: Int { 0 }
        public var endIndex: Int { count }

        public subscript(i: Int) -> Action {
            precondition(i >= 0 && i < count, "action index out of range")
            switch i {
            case 0: return a0
            case 1: return a1
            case 2: return a2
            default: return a3
            }
        }

        public mutating func append(_ action: Action) {
            // More than `capacity` would be a new combination in `handle`: a programming
            // error the tests meet first.
            precondition(count < Self.capacity, "more actions than Actions.capacity")
            switch count {
            case 0: a0 = action
            case 1: a1 = action
            case 2: a2 = action
            default: a3 = action
            }
            count += 1
        }

        public static func + (lhs: Actions, rhs: Actions) -> Actions {
            var out = lhs
            for a in rhs { out.append(a) }
            return out
        }

        public static func == (lhs: Actions, rhs: Actions) -> Bool { lhs.elementsEqual(rhs) }

        public var description: String { "\(Array(self))" }
    }

    /// Bytes of unread pipelined input tolerated while an exchange (or an admission) runs
    /// before reading pauses.
    public static let pipelineBufferLimit = 64 * 1024
    /// Input discarded while lingering beyond which the connection closes at once.
    public static let lingerDiscardLimit = 256 * 1024

    public private(set) var phase: Phase
    public private(set) var requestsServed = 0
    /// Bytes of an unfinished head have been consumed.
    public private(set) var hasPartialHead = false
    public private(set) var isHeadDeadlineArmed = false
    public private(set) var isDraining = false
    private var passRunning = false
    private var passWanted = false
    private var lingerDiscarded = 0

    /// A new connection, and what to do first. `proxyProtocol`: a PROXY header comes first.
    public static func start(proxyProtocol: Bool) -> (ClientConnectionLifecycle, Actions) {
        if proxyProtocol {
            // The header must arrive whole within `header_timeout` from the accept.
            return (ClientConnectionLifecycle(phase: .readingProxyHeader), Actions(.setReadTimeout(.header), .armHeadDeadline, .resumeReading))
        }
        return (ClientConnectionLifecycle(phase: .readingHead), Actions(.setReadTimeout(.header), .resumeReading))
    }

    private init(phase: Phase) {
        self.phase = phase
        isHeadDeadlineArmed = phase == .readingProxyHeader
    }

    /// Between requests on a kept-alive connection, with nothing of a next head read (the
    /// owner also checks that nothing is buffered).
    public var isBetweenRequests: Bool { phase == .readingHead && requestsServed > 0 && !hasPartialHead }

    public mutating func handle(_ event: Event) -> Actions {
        if phase == .closed { return Actions() }
        switch event {
        case .bytesAvailable(let buffered, let bodyWanted):
            return bytesAvailable(buffered: buffered, bodyWanted: bodyWanted)
        case .inputPassFinished:
            precondition(passRunning, "an input pass finished that was not started")
            if passWanted {
                passWanted = false
                return Actions(.processInput)
            }
            passRunning = false
            return Actions()
        case .proxyHeaderRead:
            precondition(phase == .readingProxyHeader, "PROXY header read in \(phase)")
            phase = .readingHead
            return disarmHeadDeadline() + Actions(.setReadTimeout(.header))
        case .headIncomplete:
            precondition(phase == .readingHead, "head bytes read in \(phase)")
            hasPartialHead = true
            if isHeadDeadlineArmed { return Actions() }
            isHeadDeadlineArmed = true
            return Actions(.armHeadDeadline)
        case .headParsed:
            precondition(phase == .readingHead, "head parsed in \(phase)")
            hasPartialHead = false
            requestsServed += 1
            return disarmHeadDeadline()
        case .authenticationStarted:
            precondition(phase == .readingHead, "authentication started in \(phase)")
            phase = .authenticating
            return Actions(.pauseReading, .setReadTimeout(.none))
        case .authenticationFinished:
            precondition(phase == .authenticating, "authentication finished in \(phase)")
            phase = .readingHead
            return Actions(.resumeReading)
        case .admissionStarted:
            precondition(phase == .readingHead, "admission started in \(phase)")
            phase = .admitting
            return Actions(.setReadTimeout(.none))
        case .admissionFinished:
            precondition(phase == .admitting, "admission finished in \(phase)")
            phase = .readingHead
            return Actions(.resumeReading)
        case .exchangeStarted(let readsBody):
            precondition(phase == .readingHead, "exchange started in \(phase)")
            phase = .exchanging
            // While an exchange runs the client may legitimately stay silent (long responses).
            return Actions(.setReadTimeout(readsBody ? .header : .none))
        case .exchangeFinished(let reusable):
            precondition(phase == .exchanging, "exchange finished in \(phase)")
            if reusable && !isDraining { return awaitNextHead(resume: true) }
            return closeAfterFlush()
        case .exchangeAbandoned:
            precondition(phase == .exchanging, "exchange abandoned in \(phase)")
            phase = .readingHead
            return Actions()
        case .exchangeAborted(let flushFirst):
            precondition(phase == .exchanging, "exchange aborted in \(phase)")
            guard flushFirst else { return reset() }
            phase = .abortingAfterFlush
            return Actions(.pauseReading, .resetWhenFlushed)
        case .responseWritten(let close):
            if close { return closeAfterFlush() }
            precondition(phase == .readingHead, "keep-alive response written in \(phase)")
            return awaitNextHead(resume: false)
        case .outputDrained(let empty):
            switch phase {
            case .closingAfterFlush where empty:
                phase = .lingering
                return Actions(.startLinger)
            case .abortingAfterFlush where empty:
                return reset()
            case .exchanging:
                return Actions(.notifyExchange(.clientDrained))
            default:
                return Actions()
            }
        case .endOfStream:
            switch phase {
            // The client finished sending. A streaming exchange treats that as the client leaving.
            case .exchanging: return Actions(.notifyExchange(.clientEnded))
            default: return close()
            }
        case .readTimeout:
            switch phase {
            case .readingProxyHeader:
                return Actions(.reportProxyHeaderTimeout) + close()
            case .readingHead:
                // Keep-alive expiry between heads; a head that stalled gets an answer.
                return hasPartialHead ? Actions(.answerRequestTimeout) : close()
            case .exchanging:
                return Actions(.notifyExchange(.clientTimedOut))
            case .closingAfterFlush, .abortingAfterFlush:
                // The read timeout was withdrawn on entering these phases; this one was already
                // due in the same loop turn (a head deadline and a read timeout of equal length
                // expire together). The final response still flushes; the send timeout bounds it.
                return Actions()
            default:
                return close()
            }
        case .transportFailed:
            return close()
        case .headDeadlinePassed:
            isHeadDeadlineArmed = false
            switch phase {
            case .readingProxyHeader: return Actions(.reportProxyHeaderTimeout) + close()
            case .readingHead where hasPartialHead: return Actions(.answerRequestTimeout)
            default: return Actions()
            }
        case .drainBegun(let inputBuffered):
            isDraining = true
            switch phase {
            case .readingProxyHeader:
                return close()
            case .readingHead where !hasPartialHead && !inputBuffered:
                return close()
            case .exchanging:
                return Actions(.notifyExchange(.drain))
            default:
                return Actions()
            }
        case .closeRequested:
            return close()
        }
    }

    private mutating func bytesAvailable(buffered: Int, bodyWanted: Bool) -> Actions {
        switch phase {
        case .readingHead, .readingProxyHeader:
            return requestPass()
        case .exchanging:
            if bodyWanted { return Actions(.notifyExchange(.clientReadable)) }
            return buffered > Self.pipelineBufferLimit ? Actions(.pauseReading) : Actions()
        case .admitting:
            return buffered > Self.pipelineBufferLimit ? Actions(.pauseReading) : Actions()
        case .lingering:
            lingerDiscarded += buffered
            if lingerDiscarded > Self.lingerDiscardLimit { return Actions(.discardInput) + close() }
            return Actions(.discardInput)
        case .closingAfterFlush, .abortingAfterFlush:
            return Actions(.discardInput)
        case .authenticating, .closed:
            return Actions()
        }
    }

    /// A pass now, or (one is running) another once it finishes.
    private mutating func requestPass() -> Actions {
        if passRunning {
            passWanted = true
            return Actions()
        }
        passRunning = true
        return Actions(.processInput)
    }

    private mutating func awaitNextHead(resume: Bool) -> Actions {
        phase = .readingHead
        let timeout: Actions = Actions(.setReadTimeout(requestsServed == 0 ? .header : .keepAlive))
        return timeout + (resume ? Actions(.resumeReading) : Actions()) + requestPass()
    }

    private mutating func closeAfterFlush() -> Actions {
        switch phase {
        case .closingAfterFlush, .lingering, .abortingAfterFlush, .closed:
            return Actions()
        default:
            phase = .closingAfterFlush
            // Nothing more is read for a request: only the send timeout governs the flush,
            // however this phase was reached (after an exchange, a refusal decided in line, or
            // one that waited for Redis).
            return Actions(.setReadTimeout(.none), .closeWhenFlushed)
        }
    }

    private mutating func disarmHeadDeadline() -> Actions {
        guard isHeadDeadlineArmed else { return Actions() }
        isHeadDeadlineArmed = false
        return Actions(.cancelHeadDeadline)
    }

    private mutating func close() -> Actions {
        phase = .closed
        isHeadDeadlineArmed = false
        return Actions(.closeNow)
    }

    private mutating func reset() -> Actions {
        phase = .closed
        isHeadDeadlineArmed = false
        return Actions(.resetNow)
    }
}
