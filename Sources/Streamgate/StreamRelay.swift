import StreamgateCore
import StreamgateIO

/// The event-stream side of an exchange: tracks event boundaries in the relayed bytes, writes
/// keepalives only between events, and ends the stream at a boundary when a deadline, a
/// drain or a session end asks for it. Timing decisions live in `SSEStreamTimer` (pure, tested
/// on a manual clock); this class only wires it to a loop timer and the exchange.
final class StreamRelay {
    unowned let exchange: ProxyExchange
    /// The loop for its timers and the counters it adds to: passed in, so the relay does not
    /// reach through the exchange for them.
    /// Strong, as in `ProxyExchange`: no cycle, no reference counting per access.
    private let services: WorkerServices
    /// The session store that re-validates the stream and publishes revocations (nil without auth).
    private let store: SessionStore?
    private var tracker = SSEBoundaryTracker(recordsEventID: false)
    private var timer: SSEStreamTimer
    private var loopTimer: LoopTimer?
    /// An end was requested and waits for the next boundary in the upstream bytes.
    private var endPending: SSEEndReason?
    /// Written before a stream ends because its session ended (expired or revoked).
    private var sessionEndEvent: String?
    private var stopped = false
    private let auth: ExchangeAuth?
    private var recheckTimer: LoopTimer?
    /// `keepalive` in nanoseconds (nil when off), for the per-read fast path in `afterRelay`.
    private let keepaliveNanos: UInt64?
    /// The route's slot in the worker's counters, and the events and bytes already added there:
    /// the relay path counts in the tracker and the exchange, and `flushMetrics` moves the
    /// difference after each relayed batch (and at the end). Per batch, not in a once-a-second
    /// sweep over every live stream: that sweep touched thousands of cold objects in one go
    /// and stalled the loop for milliseconds (3-4 ms per worker at 4,500 streams), which is
    /// what set the p99 of events arriving meanwhile. The worker's counters are hot anyway.
    private let metricsSlot: Int
    private var countedEvents: UInt64 = 0
    private var countedBytes: UInt64 = 0

    init(exchange: ProxyExchange, services: WorkerServices, store: SessionStore?, settings: ProxySettings.StreamSettings,
         sessionEndEvent: String?, auth: ExchangeAuth?) {
        self.exchange = exchange
        self.services = services
        self.store = store
        self.auth = auth
        keepaliveNanos = settings.keepalive.flatMap { $0 > .zero ? UInt64($0.nanosecondsClamped) : nil }
        metricsSlot = exchange.metricsSlot
        countedBytes = exchange.bytesOut
        let now = EventLoop.now()
        var maxDuration = settings.maxStreamDuration
        var expiresAt: NanoTime?
        if let session = auth?.identity.session {
            // The session's own limits: its expiry (wall clock) and an optional max stream duration.
            if let wall = session.expiresAt {
                expiresAt = SSEStreamPolicy.sessionExpiry(expiresAt: wall, now: now, wallNowMilliseconds: EventLoop.wallMilliseconds())
            }
            if let cap = session.maxStreamDuration, cap > 0 {
                maxDuration = min(maxDuration ?? .seconds(cap), .seconds(cap))
            }
            self.sessionEndEvent = sessionEndEvent
        }
        timer = SSEStreamTimer(policy: SSEStreamPolicy(
            keepalive: settings.keepalive, upstreamIdleTimeout: settings.upstreamIdleTimeout,
            maxStreamDuration: maxDuration, sessionExpiresAt: expiresAt), now: now)
        loopTimer = LoopTimer(loop: services.loop) { [unowned self] in self.timerFired() }
        if let retry = settings.retry {
            exchange.writeToClient(SSEWriter.retry(milliseconds: retry.milliseconds))
        }
        services.metrics.streamStarted(slot: metricsSlot)
        if let digest = auth?.digest, let store {
            store.register(stream: self, digest: digest)
            let t = LoopTimer(loop: services.loop) { [unowned self] in self.recheck() }
            recheckTimer = t
            t.schedule(after: store.runtime.recheckInterval)
        }
        rearm()
    }

    /// Long streams are re-validated against Redis itself (never the cache): a deleted session
    /// ends them within `recheck_interval` even when no revocation was published, and a
    /// session whose expiry moved (web apps slide sessions) moves the stream's end with it,
    /// later or earlier. A store outage keeps them open (they were valid; fail closed applies
    /// to new requests).
    private func recheck() {
        guard !stopped, let auth, let token = auth.token, let digest = auth.digest, let store else { return }
        store.revalidate(token: token, digest: digest) { [weak self] outcome in
            guard let self, !self.stopped else { return }
            switch outcome {
            case .found(let record):
                self.recheckTimer?.schedule(after: store.runtime.recheckInterval)
                // An expiry now past ends the stream as expired, at the next boundary.
                self.sessionExpiryChanged(to: record.expiresAt)
            case .unavailable:
                self.recheckTimer?.schedule(after: store.runtime.recheckInterval)
            case .notFound:
                self.requestEnd(.revoked)
            }
        }
    }

    /// The session's expiry as Redis has it now (nil: none any more).
    private func sessionExpiryChanged(to wall: Int64?) {
        let now = EventLoop.now()
        timer.updateSessionExpiry(wall.map {
            SSEStreamPolicy.sessionExpiry(expiresAt: $0, now: now, wallNowMilliseconds: EventLoop.wallMilliseconds())
        })
        // Re-arms for an earlier end, and withdraws a pending end the session outlived.
        evaluate(now: now)
    }

    /// Scans upstream payload bytes. Returns how many to forward and whether the stream must end
    /// right after them (a pending end reached a boundary).
    func scan(_ payload: UnsafeRawBufferPointer) -> (forward: Int, endHere: Bool) {
        let stop = endPending != nil
        let n = tracker.scan(payload, stopAtBoundary: stop)
        return (n, stop && (n < payload.count || tracker.isAtBoundary))
    }

    /// After each batch of upstream reads: count, feed the clock and act on what is due.
    /// `bytesOut`: the exchange's count of relayed body bytes (passed in: loading it through
    /// the unowned `exchange` is a retain and a release).
    func afterRelay(bytesOut: UInt64) {
        guard !stopped else { return }
        flushMetrics(bytesOut: bytesOut)
        let now = EventLoop.now()
        timer.bytesFromUpstream(now: now)
        timer.bytesSentToClient(now: now)
        // Relayed bytes push the idle and keepalive deadlines later, so with no end pending the
        // armed timer still fires first, re-evaluates and re-arms. One exception: a keepalive
        // that came due mid-event is off the schedule while it waits for a boundary, and these
        // bytes restart its countdown: if that lands before the armed deadline, evaluate now.
        if endPending == nil, let armed = armedDeadline, now < armed,
           keepaliveNanos.map({ armed.nanoseconds <= now.nanoseconds &+ $0 }) ?? true { return }
        evaluate(now: now)
    }

    func requestEnd(_ reason: SSEEndReason) {
        guard !stopped else { return }
        let now = EventLoop.now()
        timer.requestEnd(reason, now: now)
        evaluate(now: now)
    }

    private func timerFired() {
        armedDeadline = nil
        guard !stopped else { return }
        evaluate(now: EventLoop.now())
    }

    private func evaluate(now: NanoTime) {
        guard let action = timer.tick(now: now, atBoundary: tracker.isAtBoundary) else {
            endPending = timer.pendingEnd(now: now)
            rearm()
            return
        }
        switch action {
        case .sendKeepalive:
            services.metrics.routes[metricsSlot].keepalives &+= 1
            exchange.writeToClient(SSEWriter.keepalive())
            rearm()
        case .endAtBoundary(let reason):
            endStream(reason)
        case .abort(let reason):
            stop(StreamEndReason(reason))
            exchange.abort(outcome: .streamEnded(reason))
        }
    }

    /// The relay forwarded up to a boundary while an end was pending.
    func endAtBoundaryNow() {
        let now = EventLoop.now()
        if case .endAtBoundary(let reason)? = timer.tick(now: now, atBoundary: true) {
            endStream(reason)
        } else if let reason = endPending {
            endStream(reason)
        }
    }

    /// Upstream finished its body cleanly: the client gets the terminating chunk.
    func upstreamEnded() {
        stop(.upstreamEnd)
        exchange.responseBodyEnded()
    }

    private func endStream(_ reason: SSEEndReason) {
        stop(StreamEndReason(reason))
        if let name = sessionEndEvent, reason == .sessionExpired || reason == .revoked {
            exchange.writeToClient(SSEWriter.event(name: name, data: "{\"reason\":\"\(reason.rawValue)\"}"))
        }
        exchange.outcome = .streamEnded(reason)
        // Closing after a clean end makes EventSource reconnect (with Last-Event-ID).
        exchange.endStreamCleanly()
    }

    /// The stream is over; the first reason given is the one counted.
    func stop(_ reason: StreamEndReason) {
        guard !stopped else { return }
        stopped = true
        flushMetrics()
        services.metrics.streamEnded(slot: metricsSlot, reason)
        loopTimer?.cancel()
        loopTimer = nil
        armedDeadline = nil
        recheckTimer?.cancel()
        recheckTimer = nil
        if let digest = auth?.digest { store?.unregister(stream: self, digest: digest) }
    }

    /// Adds the events and bytes relayed since the last call to the route's counters. Runs
    /// after every relayed batch and at the end: the counters are touched in one call, on the
    /// services held here rather than reached through the exchange (each load of an unowned
    /// reference is a retain and a release).
    func flushMetrics() { flushMetrics(bytesOut: exchange.bytesOut) }

    private func flushMetrics(bytesOut bytes: UInt64) {
        let events = tracker.eventsSeen
        guard events != countedEvents || bytes != countedBytes else { return }
        services.metrics.relayed(slot: metricsSlot, events: events &- countedEvents, bytes: bytes &- countedBytes)
        countedEvents = events
        countedBytes = bytes
    }

    private var armedDeadline: NanoTime?

    /// Re-arms lazily: a timer that fires before the real deadline just re-evaluates and re-arms,
    /// which is cheaper than moving it in libevent's heap on every relayed event.
    private func rearm() {
        guard !stopped, let t = loopTimer else { return }
        guard let deadline = timer.nextDeadline() else {
            t.cancel()
            armedDeadline = nil
            return
        }
        if t.isArmed, let armed = armedDeadline, armed <= deadline { return }
        armedDeadline = deadline
        t.schedule(at: deadline)
    }
}
