/// Time limits for one relayed event stream. A nil or non-positive duration disables its
/// rule.
public struct SSEStreamPolicy: Sendable, Equatable {
    /// Write `: keepalive\n\n` after this long without any byte sent to the client
    /// (route key `keepalive`).
    public var keepalive: Duration?
    /// Give up on an upstream that has sent nothing for this long.
    public var upstreamIdleTimeout: Duration?
    /// End the stream this long after it started (route key `max_stream_duration`).
    public var maxStreamDuration: Duration?
    /// End the stream when the session expires (already converted to the monotonic clock).
    public var sessionExpiresAt: NanoTime?
    /// How long an end may wait for the upstream to reach an event boundary before the
    /// stream is aborted mid-event.
    public var boundaryGrace: Duration

    public init(
        keepalive: Duration? = .seconds(15),
        upstreamIdleTimeout: Duration? = nil,
        maxStreamDuration: Duration? = nil,
        sessionExpiresAt: NanoTime? = nil,
        boundaryGrace: Duration = .seconds(5)
    ) {
        self.keepalive = keepalive
        self.upstreamIdleTimeout = upstreamIdleTimeout
        self.maxStreamDuration = maxStreamDuration
        self.sessionExpiresAt = sessionExpiresAt
        self.boundaryGrace = boundaryGrace
    }
}

extension SSEStreamPolicy {
    /// The monotonic instant of a session expiry given in wall-clock unix seconds, from both
    /// clocks read at the same moment (`now`, `wallNowMilliseconds`). The session ends at
    /// that second exactly (a request then is refused), not rounded to the next one; a past
    /// expiry is `now`, and a far-future one saturates instead of wrapping into the past.
    public static func sessionExpiry(expiresAt: Int64, now: NanoTime, wallNowMilliseconds: Int64) -> NanoTime {
        let (ms, overflow) = expiresAt.multipliedReportingOverflow(by: 1000)
        if overflow { return expiresAt > 0 ? NanoTime(nanoseconds: .max) : now }
        let (remaining, underflow) = ms.subtractingReportingOverflow(wallNowMilliseconds)
        if underflow { return ms > 0 ? NanoTime(nanoseconds: .max) : now }
        guard remaining > 0 else { return now }
        let (t, tooFar) = now.nanoseconds.addingReportingOverflow(Duration.milliseconds(remaining).nanosecondsClamped)
        return NanoTime(nanoseconds: tooFar ? .max : t)
    }
}

/// Why the gateway ended a stream. The raw value is stable: use it in logs, metrics labels
/// and, if wanted, as the name of a final event.
public enum SSEEndReason: String, Sendable, Equatable, CaseIterable {
    case maxDuration = "max_duration"
    case sessionExpired = "session_expired"
    case revoked
    case draining
    case upstreamIdle = "upstream_idle"
}

/// What the relay must do now.
public enum SSEStreamAction: Sendable, Equatable {
    /// Write `SSEWriter.keepalive()`. The stream is at a boundary. The timer already counts
    /// it as bytes sent; do not call `bytesSentToClient` for it.
    case sendKeepalive
    /// The stream is at a boundary: optionally write a final event (`SSEWriter.event`), then
    /// end the response cleanly (terminating chunk), dropping any upstream bytes not yet
    /// forwarded.
    case endAtBoundary(SSEEndReason)
    /// End mid-event: close the client connection without a clean end of the body, so the
    /// client sees a network error (and `EventSource` reconnects). The partial event is
    /// discarded by the client either way; the abort stops proxies from caching or logging
    /// it as complete.
    case abort(SSEEndReason)
}

/// The clock-driven half of an event stream: keepalives, upstream idle timeout, maximum
/// duration, session expiry and requested ends (revocation, drain), as a pure state machine.
/// It never reads a clock and never sleeps: every input carries `now`, and the relay arms
/// one timer at `nextDeadline()`.
///
/// Rules:
/// - Keepalive: due `keepalive` after the last byte sent to the client, written only at a
///   boundary. If it falls due mid-event it is held; any byte forwarded afterwards makes it
///   unnecessary (the connection is not idle) and cancels it, otherwise it is emitted at the
///   first tick at a boundary. A held keepalive never yields a deadline, so the relay does
///   not spin on an overdue timer.
/// - Ends (max duration, session expiry, `requestEnd`): `endAtBoundary` at the first tick at
///   a boundary once due; if no boundary comes within the grace period, `abort`. While an end
///   is due, the relay scans with `stopAtBoundary` (see `pendingEnd(now:)`) so it forwards
///   nothing past the boundary where it will end.
/// - Upstream idle: the upstream sent nothing for `upstreamIdleTimeout`. At a boundary this
///   is `endAtBoundary(.upstreamIdle)`: the client has every complete event, a clean end is
///   the better ending and `EventSource` reconnects anyway. Mid-event it is
///   `abort(.upstreamIdle)` at once: the stalled upstream is what would have to produce the
///   boundary, so waiting a grace period is pointless.
/// - After any end or abort, `ended` is true and no action is ever returned again.
///
/// Relay loop, for each upstream read at `now`:
/// ```
/// timer.bytesFromUpstream(now: now)
/// let n = tracker.scan(buf, stopAtBoundary: timer.pendingEnd(now: now) != nil)
/// forward(buf[..<n]); if n > 0 { timer.bytesSentToClient(now: now) }
/// act(timer.tick(now: now, atBoundary: tracker.isAtBoundary)); arm(timer.nextDeadline())
/// ```
/// and on the timer firing: `act(timer.tick(now:atBoundary:))`, then re-arm.
public struct SSEStreamTimer: Sendable {
    private struct RequestedEnd: Sendable {
        var reason: SSEEndReason
        var at: NanoTime
        var grace: Duration
    }

    public private(set) var policy: SSEStreamPolicy
    public let startedAt: NanoTime
    // Inlinable with the two calls below: the relay makes them on every read, and an opaque
    // mutating call on its stored timer would cost a runtime exclusivity check each time.
    @usableFromInline var lastSentAt: NanoTime
    @usableFromInline var lastUpstreamAt: NanoTime
    /// The `now` of the latest `tick`. A rule that was due by then and produced no action is
    /// waiting for a boundary; `nextDeadline` must not return it again.
    private var lastTickAt: NanoTime?
    private var requested: RequestedEnd?

    /// True once an end or abort was returned. No action follows.
    public private(set) var ended = false
    /// The reason carried by the end or abort, once `ended`.
    public private(set) var endReason: SSEEndReason?

    public init(policy: SSEStreamPolicy, now: NanoTime) {
        self.policy = policy
        self.startedAt = now
        self.lastSentAt = now
        self.lastUpstreamAt = now
    }

    /// Bytes reached the client (forwarded upstream bytes or anything else the relay wrote):
    /// the keepalive countdown restarts.
    @inlinable
    public mutating func bytesSentToClient(now: NanoTime) {
        if now.nanoseconds > lastSentAt.nanoseconds { lastSentAt = now }
    }

    /// The upstream sent bytes: the idle countdown restarts.
    @inlinable
    public mutating func bytesFromUpstream(now: NanoTime) {
        if now.nanoseconds > lastUpstreamAt.nanoseconds { lastUpstreamAt = now }
    }

    /// Ask the stream to end at the next boundary (revocation, drain, expiry noticed by a
    /// re-check). The first request wins; later ones are ignored. `grace` overrides the
    /// policy's `boundaryGrace` (drain may allow its own `drain_timeout`). Call `tick` next.
    public mutating func requestEnd(_ reason: SSEEndReason, now: NanoTime, grace: Duration? = nil) {
        guard !ended, requested == nil else { return }
        requested = RequestedEnd(reason: reason, at: now, grace: grace ?? policy.boundaryGrace)
    }

    /// A re-check found a new session expiry (extended, shortened, or nil for none).
    public mutating func updateSessionExpiry(_ expiresAt: NanoTime?) {
        policy.sessionExpiresAt = expiresAt
    }

    /// The end that is due at `now`, if any: the relay should scan with `stopAtBoundary`.
    public func pendingEnd(now: NanoTime) -> SSEEndReason? {
        if ended { return nil }
        return dueEnd(now: now)?.reason
    }

    /// Decide what happens at `now`, given whether the bytes forwarded so far end at an
    /// event boundary. Returns at most one action.
    public mutating func tick(now: NanoTime, atBoundary: Bool) -> SSEStreamAction? {
        guard !ended else { return nil }
        lastTickAt = max(lastTickAt ?? now, now)

        if let idle = Self.enabled(policy.upstreamIdleTimeout), now >= lastUpstreamAt.adding(idle) {
            return finish(atBoundary ? .endAtBoundary(.upstreamIdle) : .abort(.upstreamIdle), .upstreamIdle)
        }
        if let end = dueEnd(now: now) {
            if atBoundary { return finish(.endAtBoundary(end.reason), end.reason) }
            if now >= end.at.adding(end.grace) { return finish(.abort(end.reason), end.reason) }
            return nil  // waiting for a boundary; a keepalive cannot be written mid-event
        }
        if atBoundary, let keepalive = Self.enabled(policy.keepalive), now >= lastSentAt.adding(keepalive) {
            lastSentAt = now
            return .sendKeepalive
        }
        return nil
    }

    /// When the relay should call `tick` next if nothing else happens; nil once ended or when
    /// no rule is armed. May be in the past (tick at once). Rules already seen due by a tick
    /// and waiting for a boundary contribute only their abort deadline, if any.
    public func nextDeadline() -> NanoTime? {
        if ended { return nil }
        var next: NanoTime?
        func consider(_ t: NanoTime) { if next.map({ t < $0 }) ?? true { next = t } }

        if let idle = Self.enabled(policy.upstreamIdleTimeout) {
            consider(lastUpstreamAt.adding(idle))
        }
        forEachScheduledEnd { _, at, grace in
            consider(seenByTick(at) ? at.adding(grace) : at)
        }
        if let keepalive = Self.enabled(policy.keepalive) {
            let due = lastSentAt.adding(keepalive)
            if !seenByTick(due) { consider(due) }
        }
        return next
    }

    // MARK: - Helpers

    private mutating func finish(_ action: SSEStreamAction, _ reason: SSEEndReason) -> SSEStreamAction {
        ended = true
        endReason = reason
        return action
    }

    private func seenByTick(_ t: NanoTime) -> Bool { lastTickAt.map { $0 >= t } ?? false }

    /// The earliest end due at `now`; on a tie the requested end wins, then session expiry.
    private func dueEnd(now: NanoTime) -> (reason: SSEEndReason, at: NanoTime, grace: Duration)? {
        var best: (reason: SSEEndReason, at: NanoTime, grace: Duration)?
        forEachScheduledEnd { reason, at, grace in
            if at <= now, best.map({ at < $0.at }) ?? true { best = (reason, at, grace) }
        }
        return best
    }

    /// Calls `body` for each end rule that is armed, in tie-break order.
    private func forEachScheduledEnd(_ body: (SSEEndReason, NanoTime, Duration) -> Void) {
        if let requested { body(requested.reason, requested.at, requested.grace) }
        if let expiry = policy.sessionExpiresAt { body(.sessionExpired, expiry, policy.boundaryGrace) }
        if let max = Self.enabled(policy.maxStreamDuration) {
            body(.maxDuration, startedAt.adding(max), policy.boundaryGrace)
        }
    }

    private static func enabled(_ d: Duration?) -> Duration? {
        guard let d, d > .zero else { return nil }
        return d
    }
}

extension NanoTime {
    /// `self + d`, saturating instead of wrapping (a `max_stream_duration` of years must not
    /// wrap around to the past).
    fileprivate func adding(_ d: Duration) -> NanoTime {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(d.nanosecondsClamped)
        return NanoTime(nanoseconds: overflow ? .max : sum)
    }
}
