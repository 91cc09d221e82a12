import Testing
@testable import StreamgateCore

/// Seconds on the manual clock.
private func at(_ seconds: Double) -> NanoTime { NanoTime(nanoseconds: UInt64(seconds * 1e9)) }

@Suite struct SSEStreamTimerTests {
    @Test func keepaliveCadence() {
        var timer = SSEStreamTimer(policy: SSEStreamPolicy(keepalive: .seconds(15)), now: at(0))
        #expect(timer.nextDeadline() == at(15))
        #expect(timer.tick(now: at(14.9), atBoundary: true) == nil)
        #expect(timer.tick(now: at(15), atBoundary: true) == .sendKeepalive)
        #expect(timer.nextDeadline() == at(30))  // the keepalive itself counts as sent
        timer.bytesSentToClient(now: at(20))
        #expect(timer.nextDeadline() == at(35))
        #expect(timer.tick(now: at(30), atBoundary: true) == nil)
        #expect(timer.tick(now: at(35), atBoundary: true) == .sendKeepalive)
        #expect(timer.tick(now: at(35), atBoundary: true) == nil)  // once per interval
        #expect(!timer.ended)
    }

    @Test func keepaliveDueMidEventWaitsForBoundary() {
        var timer = SSEStreamTimer(policy: SSEStreamPolicy(keepalive: .seconds(15)), now: at(0))
        #expect(timer.tick(now: at(15), atBoundary: false) == nil)
        #expect(timer.nextDeadline() == nil)  // held: no deadline to spin on
        #expect(timer.tick(now: at(16), atBoundary: false) == nil)
        #expect(timer.tick(now: at(17), atBoundary: true) == .sendKeepalive)
        #expect(timer.nextDeadline() == at(32))
    }

    @Test func heldKeepaliveIsCancelledByForwardedBytes() {
        var timer = SSEStreamTimer(policy: SSEStreamPolicy(keepalive: .seconds(15)), now: at(0))
        #expect(timer.tick(now: at(15), atBoundary: false) == nil)
        timer.bytesSentToClient(now: at(18))  // the rest of the event reached the client
        #expect(timer.tick(now: at(18), atBoundary: true) == nil)
        #expect(timer.nextDeadline() == at(33))
    }

    @Test func upstreamIdleAbortsMidEvent() {
        var timer = SSEStreamTimer(
            policy: SSEStreamPolicy(keepalive: .seconds(15), upstreamIdleTimeout: .seconds(30)), now: at(0))
        timer.bytesFromUpstream(now: at(10))
        timer.bytesSentToClient(now: at(10))
        #expect(timer.nextDeadline() == at(25))
        #expect(timer.tick(now: at(25), atBoundary: false) == nil)  // keepalive held
        #expect(timer.nextDeadline() == at(40))  // idle is next
        #expect(timer.tick(now: at(39), atBoundary: false) == nil)
        #expect(timer.tick(now: at(40), atBoundary: false) == .abort(.upstreamIdle))
        #expect(timer.ended)
        #expect(timer.endReason == .upstreamIdle)
    }

    @Test func upstreamIdleAtBoundaryEndsCleanly() {
        var timer = SSEStreamTimer(
            policy: SSEStreamPolicy(keepalive: .seconds(15), upstreamIdleTimeout: .seconds(30)), now: at(0))
        #expect(timer.tick(now: at(15), atBoundary: true) == .sendKeepalive)
        #expect(timer.nextDeadline() == at(30))
        // Keepalives do not count as upstream traffic.
        #expect(timer.tick(now: at(30), atBoundary: true) == .endAtBoundary(.upstreamIdle))
    }

    @Test func maxDurationEndsAtBoundary() {
        let policy = SSEStreamPolicy(keepalive: nil, maxStreamDuration: .seconds(60), boundaryGrace: .seconds(5))
        var timer = SSEStreamTimer(policy: policy, now: at(100))
        #expect(timer.nextDeadline() == at(160))
        #expect(timer.pendingEnd(now: at(159)) == nil)
        #expect(timer.pendingEnd(now: at(160)) == .maxDuration)
        #expect(timer.tick(now: at(160), atBoundary: false) == nil)  // mid-event: wait
        #expect(timer.nextDeadline() == at(165))  // then the grace deadline
        #expect(timer.tick(now: at(163), atBoundary: true) == .endAtBoundary(.maxDuration))
        #expect(timer.ended)
        #expect(timer.nextDeadline() == nil)
    }

    @Test func endAbortsWhenNoBoundaryWithinGrace() {
        let policy = SSEStreamPolicy(keepalive: .seconds(1), maxStreamDuration: .seconds(60), boundaryGrace: .seconds(5))
        var timer = SSEStreamTimer(policy: policy, now: at(0))
        timer.bytesSentToClient(now: at(59.5))
        #expect(timer.tick(now: at(60), atBoundary: false) == nil)
        timer.bytesSentToClient(now: at(61))
        #expect(timer.tick(now: at(64.9), atBoundary: false) == nil)
        #expect(timer.tick(now: at(65), atBoundary: false) == .abort(.maxDuration))
    }

    @Test func endTakesPrecedenceOverKeepalive() {
        let policy = SSEStreamPolicy(keepalive: .seconds(15), maxStreamDuration: .seconds(15))
        var timer = SSEStreamTimer(policy: policy, now: at(0))
        #expect(timer.tick(now: at(15), atBoundary: true) == .endAtBoundary(.maxDuration))
    }

    @Test func nothingAfterEnded() {
        var timer = SSEStreamTimer(policy: SSEStreamPolicy(keepalive: .seconds(1), upstreamIdleTimeout: .seconds(2)), now: at(0))
        timer.requestEnd(.revoked, now: at(0.5))
        #expect(timer.tick(now: at(0.5), atBoundary: true) == .endAtBoundary(.revoked))
        timer.requestEnd(.draining, now: at(1))
        timer.updateSessionExpiry(at(1))
        timer.bytesFromUpstream(now: at(1))
        for t in [1.0, 2, 3, 100] {
            #expect(timer.tick(now: at(t), atBoundary: true) == nil)
            #expect(timer.tick(now: at(t), atBoundary: false) == nil)
        }
        #expect(timer.nextDeadline() == nil)
        #expect(timer.pendingEnd(now: at(100)) == nil)
        #expect(timer.endReason == .revoked)
    }

    @Test func requestedEndUsesItsOwnGraceAndFirstRequestWins() {
        var timer = SSEStreamTimer(policy: SSEStreamPolicy(keepalive: nil, boundaryGrace: .seconds(5)), now: at(0))
        #expect(timer.nextDeadline() == nil)
        timer.requestEnd(.draining, now: at(10), grace: .seconds(30))
        timer.requestEnd(.revoked, now: at(11))
        #expect(timer.pendingEnd(now: at(11)) == .draining)
        #expect(timer.nextDeadline() == at(10))  // not yet seen by a tick: tick now
        #expect(timer.tick(now: at(11), atBoundary: false) == nil)
        #expect(timer.nextDeadline() == at(40))
        #expect(timer.tick(now: at(39), atBoundary: false) == nil)
        #expect(timer.tick(now: at(40), atBoundary: false) == .abort(.draining))
    }

    @Test func sessionExpiryCanMove() {
        var timer = SSEStreamTimer(
            policy: SSEStreamPolicy(keepalive: nil, sessionExpiresAt: at(100), boundaryGrace: .seconds(5)), now: at(0))
        #expect(timer.nextDeadline() == at(100))
        timer.updateSessionExpiry(at(200))  // re-check found an extended session
        #expect(timer.nextDeadline() == at(200))
        #expect(timer.tick(now: at(150), atBoundary: true) == nil)
        timer.updateSessionExpiry(nil)
        #expect(timer.nextDeadline() == nil)
        timer.updateSessionExpiry(at(160))
        #expect(timer.tick(now: at(170), atBoundary: true) == .endAtBoundary(.sessionExpired))
    }

    @Test func earliestDueEndGivesTheReason() {
        let policy = SSEStreamPolicy(keepalive: nil, maxStreamDuration: .seconds(60), sessionExpiresAt: at(50))
        var timer = SSEStreamTimer(policy: policy, now: at(0))
        #expect(timer.nextDeadline() == at(50))
        #expect(timer.tick(now: at(70), atBoundary: true) == .endAtBoundary(.sessionExpired))
    }

    @Test func disabledAndHugeDurations() {
        let policy = SSEStreamPolicy(keepalive: .zero, upstreamIdleTimeout: .seconds(-1), maxStreamDuration: .seconds(Int64.max))
        var timer = SSEStreamTimer(policy: policy, now: at(5))
        #expect(timer.nextDeadline() == NanoTime(nanoseconds: .max))  // saturates, never wraps
        #expect(timer.tick(now: at(1e9), atBoundary: true) == nil)
    }

    /// A simulated relay on a manual clock, driven by random upstream traffic and random
    /// boundary states, checks the invariants the relay relies on:
    /// - after a tick, `nextDeadline` is nil or later than now (no busy loop);
    /// - nothing is due before `nextDeadline` (ticking earlier yields no action);
    /// - while at a boundary, the client never waits longer than `keepalive` for a byte;
    /// - keepalives only at boundaries; at most one end; nothing after it;
    /// - an end is never later than due + grace.
    @Test func simulatedRelayInvariants() {
        var rng = SeededRNG(seed: 99)
        for _ in 0..<300 {
            let keepalive = Duration.seconds(Int64.random(in: 1...20, using: &rng))
            let grace = Duration.seconds(Int64.random(in: 1...10, using: &rng))
            let policy = SSEStreamPolicy(
                keepalive: keepalive,
                upstreamIdleTimeout: Bool.random(using: &rng) ? .seconds(Int64.random(in: 10...120, using: &rng)) : nil,
                maxStreamDuration: Bool.random(using: &rng) ? .seconds(Int64.random(in: 30...600, using: &rng)) : nil,
                sessionExpiresAt: Bool.random(using: &rng) ? at(Double.random(in: 10...900, using: &rng)) : nil,
                boundaryGrace: grace)
            var timer = SSEStreamTimer(policy: policy, now: .zero)
            var now = NanoTime.zero
            var atBoundary = true
            var lastClientByte = NanoTime.zero
            var endDueSince: NanoTime?
            var actions = 0

            func handle(_ action: SSEStreamAction?) {
                guard let action else { return }
                actions += 1
                switch action {
                case .sendKeepalive:
                    #expect(atBoundary)
                    lastClientByte = now
                case .endAtBoundary(let reason):
                    #expect(atBoundary || reason == .upstreamIdle)
                case .abort:
                    if let since = endDueSince { #expect(now <= since + grace || timer.endReason == .upstreamIdle) }
                }
            }

            for _ in 0..<200 where !timer.ended {
                // Next upstream read, or the timer, whichever comes first.
                let gap = Duration.milliseconds(Int64.random(in: 1...40_000, using: &rng))
                let readAt = now + gap
                let deadline = timer.nextDeadline()
                if let deadline, deadline <= readAt {
                    // Nothing may be due strictly before the deadline.
                    if deadline > now {
                        var probe = timer
                        let before = NanoTime(nanoseconds: deadline.nanoseconds - 1)
                        #expect(probe.tick(now: before, atBoundary: atBoundary) == nil)
                    }
                    now = max(now, deadline)
                } else {
                    now = readAt
                    timer.bytesFromUpstream(now: now)
                    if Int.random(in: 0..<30, using: &rng) == 0 {
                        timer.requestEnd([.revoked, .draining].randomElement(using: &rng)!, now: now)
                    }
                    // When an end is due the relay forwards only up to a boundary.
                    if timer.pendingEnd(now: now) != nil && Bool.random(using: &rng) {
                        atBoundary = true
                    } else {
                        atBoundary = Int.random(in: 0..<3, using: &rng) != 0
                    }
                    timer.bytesSentToClient(now: now)
                    lastClientByte = now
                }
                if endDueSince == nil, timer.pendingEnd(now: now) != nil { endDueSince = now }
                let action = timer.tick(now: now, atBoundary: atBoundary)
                handle(action)
                if action == nil, let next = timer.nextDeadline() { #expect(next > now) }
                if atBoundary && !timer.ended {
                    #expect(now.since(lastClientByte) <= keepalive)
                }
            }
            if timer.ended {
                #expect(timer.tick(now: now + .seconds(1_000), atBoundary: true) == nil)
                #expect(timer.nextDeadline() == nil)
            }
            #expect(actions > 0)
        }
    }

    /// Wall-clock expiries become monotonic deadlines to the millisecond, and extreme values
    /// neither wrap (an `expires_at` near Int64.max used to overflow to "already expired")
    /// nor trap.
    @Test func sessionExpiryFromWallClock() {
        let now = at(100)
        let wallMs: Int64 = 1_700_000_000_250  // 250 ms into a second
        func expiry(_ s: Int64) -> NanoTime { SSEStreamPolicy.sessionExpiry(expiresAt: s, now: now, wallNowMilliseconds: wallMs) }
        #expect(expiry(1_700_000_002) == at(101.75))
        #expect(expiry(1_700_000_000) == now, "expired during this second: now")
        #expect(expiry(0) == now)
        #expect(expiry(-5) == now)
        #expect(expiry(Int64.min) == now)
        #expect(expiry(Int64.max) == NanoTime(nanoseconds: .max))
        #expect(expiry(Int64.max / 1000) == NanoTime(nanoseconds: .max))
        #expect(expiry(1_700_000_000 + 86_400 * 365 * 100) > at(100 + 86_400 * 365 * 99))
    }

    /// What a re-check does to a stream whose session slid: an end already due and waiting
    /// for a boundary is withdrawn when the expiry moves later.
    @Test func aDueExpiryIsWithdrawnWhenTheSessionSlides() {
        var timer = SSEStreamTimer(
            policy: SSEStreamPolicy(keepalive: nil, sessionExpiresAt: at(10), boundaryGrace: .seconds(5)), now: at(0))
        #expect(timer.tick(now: at(10), atBoundary: false) == nil)
        #expect(timer.pendingEnd(now: at(10)) == .sessionExpired)
        timer.updateSessionExpiry(at(20))
        #expect(timer.pendingEnd(now: at(11)) == nil)
        #expect(timer.nextDeadline() == at(20))
        #expect(timer.tick(now: at(15), atBoundary: true) == nil, "no abort at the old grace deadline")
        #expect(timer.tick(now: at(20), atBoundary: true) == .endAtBoundary(.sessionExpired))
    }
}
