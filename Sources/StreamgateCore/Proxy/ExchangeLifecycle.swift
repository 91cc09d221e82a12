/// The life of one proxied exchange as a pure state machine: events in (an upstream attached
/// or failed, heads arrived, bodies ended, the client left), decisions out (retry on a fresh
/// connection, try the next address, answer with an error, abort, finish and keep the client
/// connection or not). It owns no socket and no timer; `ProxyExchange` does what it says.
///
/// Phases, in order:
/// ```
/// idle → connecting → awaitingHead ─(final head)→ relaying | streaming → done
///            ↑______________|  (retry / next address, before any head)
/// ```
/// `awaitingHead` may see up to `maxInterimResponses` interim (1xx) heads. Any phase may end
/// in `done` (error response, abort, client gone). The request body runs alongside: the
/// exchange completes when both the response and the request body have ended.
///
/// Events that arrive late for an exchange already done (a failure, a timer, a body end, the client
/// leaving) are ignored; events that cannot happen in a phase (a head after the final one, a
/// connect after the head) are bugs and trap, so tests catch them.
public struct ExchangeLifecycle: Sendable {
    public enum Phase: UInt8, Sendable {
        case idle
        /// An upstream connection is being opened; the request head waits in its output.
        case connecting
        /// Connected: the request is (being) sent, no final response head yet.
        case awaitingHead
        /// The final head went to the client; a plain body is relayed.
        case relaying
        /// The final head went to the client; the body is relayed as an event stream.
        case streaming
        case done
    }

    /// How a finished exchange ended.
    public enum End: Sendable, Equatable {
        /// The response went out whole. `reusable`: the client connection may carry another request.
        case complete(reusable: Bool)
        /// Failed before any response byte: the client gets a gateway error response.
        case errorResponse
        /// Ended without a clean end towards the client (no terminating chunk, reset).
        case aborted
        /// The client left first.
        case clientGone
    }

    /// What to do about an upstream that failed before the final response head.
    public enum FailureBeforeHead: Sendable, Equatable {
        /// A pooled connection the server had closed while idle: send again on a fresh one.
        case retryOnFreshConnection
        /// Nothing reached the upstream: try the next address (if there is none, fail).
        case tryNextAddress
        case fail
    }

    /// What to do with an interim (1xx) head.
    public enum Interim: Sendable, Equatable {
        /// Relay it (to an HTTP/1.1 client); on the first, arm the wait for the final head.
        case relay(armFinalResponseTimer: Bool)
        case fail(UpstreamFailure)
    }

    /// How a failure ends the exchange.
    public enum Failure: Sendable, Equatable {
        /// No response byte was sent: answer with a gateway error.
        case sendErrorResponse
        /// The head went out: end without a clean end towards the client.
        case abort
        /// Already done: nothing to do.
        case ignore
    }

    /// Interim heads tolerated before the upstream counts as broken (`UpstreamFailure.interimFlood`).
    public static let maxInterimResponses = 10

    public private(set) var phase: Phase = .idle
    public private(set) var end: End?
    /// Connects started, the first included.
    public private(set) var attempts = 0
    public private(set) var interimResponses = 0
    /// Set with the final head and kept after `done`.
    public private(set) var hasResponseHead = false
    public private(set) var requestBodyDone: Bool
    /// The response body was relayed to its end (or the gateway ended the stream).
    public private(set) var responseDone = false
    /// A live stream's upstream reads come straight to the exchange, past its input buffer.
    public private(set) var readsDirectly = false
    /// The client connection may carry another request (until drain or an early end says no).
    public private(set) var keepAlive = false
    private var closeDelimited = false
    /// The request may be sent twice: an idempotent method without a body.
    private let retryable: Bool

    public init(method: String, requestFraming: BodyFraming) {
        requestBodyDone = requestFraming == .none
        retryable = requestFraming == .none && Self.idempotentMethods.contains(method)
    }

    /// Methods sent again on a fresh connection when a pooled one turns out closed (RFC 9110 §9.2.2).
    static let idempotentMethods = ["GET", "HEAD", "OPTIONS", "DELETE", "PUT"]

    public var isDone: Bool { phase == .done }

    // MARK: - Connecting

    /// A connect (the first, a retry, or the next address) is starting.
    public mutating func connectStarted() {
        precondition(phase == .idle || phase == .connecting || phase == .awaitingHead, "connect after the response head (\(phase))")
        attempts += 1
        phase = .connecting
    }

    /// The upstream connection is open (at once for a pooled one).
    public mutating func connected() {
        precondition(phase == .connecting, "connected while \(phase)")
        phase = .awaitingHead
    }

    /// The upstream failed before a final head.
    /// - Parameters:
    ///   - staleReusedConnection: a pooled connection that closed or reset (not one that
    ///     merely timed out): the server likely dropped it while idle.
    ///   - requestBodyTaken: body bytes were taken from the client, so they cannot be sent again.
    public func failedBeforeHead(_ failure: UpstreamFailure, staleReusedConnection: Bool, requestBodyTaken: Bool) -> FailureBeforeHead {
        precondition(phase == .connecting || phase == .awaitingHead, "upstream failure before head while \(phase)")
        if staleReusedConnection, retryable, attempts < 2, !requestBodyTaken { return .retryOnFreshConnection }
        // Not connected: nothing of the request left the gateway, so any method may go to the
        // next address as long as no body byte was taken from the client.
        if failure.triesNextAddress, !requestBodyTaken { return .tryNextAddress }
        return .fail
    }

    // MARK: - Response head

    /// An interim (1xx) head arrived.
    public mutating func interimHead(status: Int) -> Interim {
        precondition(phase == .awaitingHead || phase == .connecting, "interim head while \(phase)")
        // 101 would mean an upgrade nobody asked for.
        if status == 101 { return .fail(.unexpectedUpgrade) }
        interimResponses += 1
        if interimResponses > Self.maxInterimResponses { return .fail(.interimFlood) }
        return .relay(armFinalResponseTimer: interimResponses == 1)
    }

    /// The wait for a final head (armed by the first interim head) ran out: the failure, or
    /// nil when the head came or the exchange ended meanwhile.
    public func finalResponseTimedOut() -> UpstreamFailure? {
        phase == .connecting || phase == .awaitingHead ? .responseTimeout : nil
    }

    /// The final head went to the client with `plan`.
    public mutating func finalHead(_ plan: ResponsePlan) {
        precondition(phase == .awaitingHead || phase == .connecting, "final head while \(phase)")
        phase = plan.isStream ? .streaming : .relaying
        hasResponseHead = true
        keepAlive = plan.keepAlive
        closeDelimited = plan.clientFraming == .closeDelimited
    }

    /// The stream's upstream reads now come straight to the exchange: only once the request
    /// is fully sent, so bytes stay in order.
    public mutating func readDirectly() {
        precondition(phase == .streaming && requestBodyDone && !readsDirectly, "direct reads while \(phase)")
        readsDirectly = true
    }

    // MARK: - Ends

    /// The client's request body is fully relayed. True when that completes the exchange.
    public mutating func requestBodyEnded() -> Bool {
        precondition(!requestBodyDone, "request body ended twice")
        requestBodyDone = true
        return responseDone && complete()
    }

    /// The response body reached its end. True when that completes the exchange: at once if
    /// the request body is in too; else also at once, without keep-alive, unless the body is
    /// close-delimited (the upstream answered early, e.g. 413: the rest of the client's body
    /// cannot be told from a next request).
    public mutating func responseBodyEnded() -> Bool {
        guard phase != .done else { return false }
        precondition(hasResponseHead && !responseDone, "response body ended while \(phase)")
        responseDone = true
        if requestBodyDone { return complete() }
        if closeDelimited { return false }
        keepAlive = false
        return complete()
    }

    /// The gateway ended a stream at a boundary: the client gets a clean end, then the
    /// connection closes (so `EventSource` reconnects). True when that completes the exchange.
    public mutating func streamEndedCleanly() -> Bool {
        guard phase != .done else { return false }
        precondition(phase == .streaming, "clean stream end while \(phase)")
        responseDone = true
        keepAlive = false
        return complete()
    }

    /// A failure (upstream or request body): how it ends the exchange.
    public mutating func failed() -> Failure {
        switch phase {
        case .done: return .ignore
        case .relaying, .streaming: finish(.aborted); return .abort
        case .idle, .connecting, .awaitingHead: finish(.errorResponse); return .sendErrorResponse
        }
    }

    /// Ends without a clean end towards the client. False when already done.
    public mutating func aborted() -> Bool {
        guard phase != .done else { return false }
        finish(.aborted)
        return true
    }

    /// The client left. False when already done.
    public mutating func clientLeft() -> Bool {
        guard phase != .done else { return false }
        finish(.clientGone)
        return true
    }

    /// The gateway drains: the client connection is not kept after this exchange.
    public mutating func drain() { keepAlive = false }

    private mutating func complete() -> Bool {
        guard phase != .done else { return false }
        finish(.complete(reusable: keepAlive && requestBodyDone && !closeDelimited))
        return true
    }

    private mutating func finish(_ end: End) {
        phase = .done
        self.end = end
    }
}
