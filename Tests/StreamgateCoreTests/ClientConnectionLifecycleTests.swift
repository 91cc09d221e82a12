import Testing
@testable import StreamgateCore

private typealias Lifecycle = ClientConnectionLifecycle

/// A plain listener's connection with `served` requests already answered and kept alive,
/// waiting for the next head.
private func keptAlive(served: Int = 1) -> Lifecycle {
    var c = Lifecycle.start(proxyProtocol: false).0
    for _ in 0..<served {
        _ = c.handle(.bytesAvailable(buffered: 100, bodyWanted: false))
        _ = c.handle(.headParsed)
        _ = c.handle(.exchangeStarted(readsBody: false))
        _ = c.handle(.inputPassFinished)
        _ = c.handle(.exchangeFinished(reusable: true))
        _ = c.handle(.inputPassFinished)
    }
    return c
}

/// The same, in the middle of an exchange.
private func exchanging() -> Lifecycle {
    var c = Lifecycle.start(proxyProtocol: false).0
    _ = c.handle(.bytesAvailable(buffered: 100, bodyWanted: false))
    _ = c.handle(.headParsed)
    _ = c.handle(.exchangeStarted(readsBody: false))
    _ = c.handle(.inputPassFinished)
    return c
}

@Suite struct ClientConnectionLifecycleTests {
    @Test func startsReadingHeadsWithTheHeaderTimeout() {
        let (c, actions) = Lifecycle.start(proxyProtocol: false)
        #expect(c.phase == .readingHead)
        #expect(actions == [.setReadTimeout(.header), .resumeReading])
        #expect(!c.isBetweenRequests)  // nothing served yet: not a keep-alive connection
    }

    @Test func keepAliveReuse() {
        var c = Lifecycle.start(proxyProtocol: false).0
        #expect(c.handle(.bytesAvailable(buffered: 80, bodyWanted: false)) == [.processInput])
        #expect(c.handle(.headParsed) == [])
        #expect(c.requestsServed == 1)
        #expect(c.handle(.exchangeStarted(readsBody: false)) == [.setReadTimeout(.none)])
        #expect(c.phase == .exchanging)
        #expect(c.handle(.inputPassFinished) == [])
        // The response went out whole: the next head is waited for with keepalive_timeout.
        #expect(c.handle(.exchangeFinished(reusable: true)) == [.setReadTimeout(.keepAlive), .resumeReading, .processInput])
        #expect(c.phase == .readingHead)
        #expect(c.handle(.inputPassFinished) == [])
        #expect(c.isBetweenRequests)
        // Keep-alive expiry with nothing of a next head: closed without a response.
        #expect(c.handle(.readTimeout) == [.closeNow])
        #expect(c.phase == .closed)
    }

    @Test func requestWithBodyReadsWithTheHeaderTimeout() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 80, bodyWanted: false))
        _ = c.handle(.headParsed)
        #expect(c.handle(.exchangeStarted(readsBody: true)) == [.setReadTimeout(.header)])
        #expect(c.handle(.inputPassFinished) == [])
        #expect(c.handle(.bytesAvailable(buffered: 10, bodyWanted: true)) == [.notifyExchange(.clientReadable)])
        #expect(c.handle(.readTimeout) == [.notifyExchange(.clientTimedOut)])
        #expect(c.phase == .exchanging)
    }

    @Test func pipelinedRequestsRunOnePassAtATime() {
        var c = Lifecycle.start(proxyProtocol: false).0
        #expect(c.handle(.bytesAvailable(buffered: 200, bodyWanted: false)) == [.processInput])
        // First request answered by the gateway inside the pass (a 404, kept alive).
        #expect(c.handle(.headParsed) == [])
        #expect(c.handle(.responseWritten(close: false)) == [.setReadTimeout(.keepAlive)])  // no nested pass
        // Second request in the same pass, proxied; it finishes synchronously too.
        #expect(c.handle(.headParsed) == [])
        #expect(c.handle(.exchangeStarted(readsBody: false)) == [.setReadTimeout(.none)])
        #expect(c.handle(.exchangeFinished(reusable: true)) == [.setReadTimeout(.keepAlive), .resumeReading])
        #expect(c.requestsServed == 2)
        // What those asked for is one more pass, after this one.
        #expect(c.handle(.inputPassFinished) == [.processInput])
        #expect(c.handle(.inputPassFinished) == [])
        // Input piling up behind a running exchange pauses reading past the limit.
        _ = c.handle(.bytesAvailable(buffered: 10, bodyWanted: false))
        _ = c.handle(.headParsed)
        _ = c.handle(.exchangeStarted(readsBody: false))
        _ = c.handle(.inputPassFinished)
        #expect(c.handle(.bytesAvailable(buffered: Lifecycle.pipelineBufferLimit, bodyWanted: false)) == [])
        #expect(c.handle(.bytesAvailable(buffered: Lifecycle.pipelineBufferLimit + 1, bodyWanted: false)) == [.pauseReading])
    }

    @Test func endOfStreamMidHeadCloses() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        #expect(c.handle(.headIncomplete) == [.armHeadDeadline])
        #expect(c.handle(.headIncomplete) == [])  // armed once per head, not re-armed by more bytes
        #expect(c.handle(.inputPassFinished) == [])
        #expect(c.hasPartialHead)
        #expect(c.handle(.endOfStream) == [.closeNow])
        #expect(c.phase == .closed)
        #expect(!c.isHeadDeadlineArmed)
        // Callbacks already scheduled are ignored once closed.
        #expect(c.handle(.headDeadlinePassed) == [])
        #expect(c.handle(.bytesAvailable(buffered: 5, bodyWanted: false)) == [])
        #expect(c.handle(.closeRequested) == [])
    }

    @Test func headTimeoutAnswers408ThenLingers() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = c.handle(.headIncomplete)
        _ = c.handle(.inputPassFinished)
        #expect(c.handle(.headDeadlinePassed) == [.answerRequestTimeout])
        #expect(!c.isHeadDeadlineArmed)
        // The 408 closes the connection once flushed.
        #expect(c.handle(.responseWritten(close: true)) == [.setReadTimeout(.none), .closeWhenFlushed])
        #expect(c.phase == .closingAfterFlush)
        #expect(c.handle(.outputDrained(empty: false)) == [])
        #expect(c.handle(.outputDrained(empty: true)) == [.startLinger])
        #expect(c.phase == .lingering)
    }

    /// `header_timeout` is both the head deadline and the read timeout while a head arrives, so
    /// the two can expire in one loop turn, in either order. Whichever comes second must not
    /// close the connection under the 408 before it is flushed.
    @Test func aReadTimeoutDueWithTheHeadDeadlineLeavesThe408ToFlush() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = c.handle(.headIncomplete)
        _ = c.handle(.inputPassFinished)
        #expect(c.handle(.headDeadlinePassed) == [.answerRequestTimeout])
        #expect(c.handle(.responseWritten(close: true)) == [.setReadTimeout(.none), .closeWhenFlushed])
        #expect(c.handle(.readTimeout) == [], "the 408 still waits to be flushed")
        #expect(c.phase == .closingAfterFlush)
        #expect(c.handle(.outputDrained(empty: true)) == [.startLinger])
        // The other order: the read timeout answers, the deadline that follows is ignored.
        var d = Lifecycle.start(proxyProtocol: false).0
        _ = d.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = d.handle(.headIncomplete)
        _ = d.handle(.inputPassFinished)
        #expect(d.handle(.readTimeout) == [.answerRequestTimeout])
        _ = d.handle(.responseWritten(close: true))
        #expect(d.handle(.headDeadlinePassed) == [])
        #expect(d.phase == .closingAfterFlush)
    }

    @Test func readTimeoutMidHeadAlsoAnswers408() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = c.handle(.headIncomplete)
        _ = c.handle(.inputPassFinished)
        #expect(c.handle(.readTimeout) == [.answerRequestTimeout])
    }

    @Test func completeHeadCancelsTheDeadline() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = c.handle(.headIncomplete)
        #expect(c.handle(.headParsed) == [.cancelHeadDeadline])
        #expect(!c.hasPartialHead)
        // A deadline firing late (already queued) finds no partial head.
        _ = c.handle(.responseWritten(close: false))
        #expect(c.handle(.headDeadlinePassed) == [])
        #expect(c.phase == .readingHead)
    }

    @Test func drainWhileIdleClosesAtOnce() {
        var c = keptAlive()
        #expect(c.handle(.drainBegun(inputBuffered: false)) == [.closeNow])
        #expect(c.phase == .closed)
    }

    @Test func drainWithAHeadUnderWayWaitsForIt() {
        var partial = keptAlive()
        _ = partial.handle(.bytesAvailable(buffered: 5, bodyWanted: false))
        _ = partial.handle(.headIncomplete)
        _ = partial.handle(.inputPassFinished)
        #expect(partial.handle(.drainBegun(inputBuffered: false)) == [])
        #expect(partial.phase == .readingHead)

        var buffered = keptAlive()
        #expect(buffered.handle(.drainBegun(inputBuffered: true)) == [])
        #expect(buffered.isDraining)
    }

    @Test func drainWhileExchangingClosesAfterTheExchange() {
        var c = exchanging()
        #expect(c.handle(.drainBegun(inputBuffered: false)) == [.notifyExchange(.drain)])
        #expect(c.phase == .exchanging)
        // Even a reusable connection is not reused while draining.
        #expect(c.handle(.exchangeFinished(reusable: true)) == [.setReadTimeout(.none), .closeWhenFlushed])
        #expect(c.phase == .closingAfterFlush)
    }

    @Test func closeAfterFlushThenLinger() {
        var c = exchanging()
        #expect(c.handle(.outputDrained(empty: true)) == [.notifyExchange(.clientDrained)])
        #expect(c.handle(.exchangeFinished(reusable: false)) == [.setReadTimeout(.none), .closeWhenFlushed])
        // Input meanwhile is discarded, not parsed.
        #expect(c.handle(.bytesAvailable(buffered: 30, bodyWanted: false)) == [.discardInput])
        // A second close request changes nothing.
        #expect(c.handle(.responseWritten(close: true)) == [])
        #expect(c.handle(.outputDrained(empty: true)) == [.startLinger])
        // A client that closes while not yet flushed: see below; here it closes while lingering.
        #expect(c.handle(.endOfStream) == [.closeNow])
    }

    @Test func clientLeavingBeforeTheFlushCloses() {
        var c = exchanging()
        _ = c.handle(.exchangeFinished(reusable: false))
        #expect(c.handle(.endOfStream) == [.closeNow])
        var t = exchanging()
        _ = t.handle(.exchangeFinished(reusable: false))
        #expect(t.handle(.transportFailed) == [.closeNow])
    }

    @Test func lingerDiscardsUntilTheLimitOrTimeout() {
        var c = exchanging()
        _ = c.handle(.exchangeFinished(reusable: false))
        _ = c.handle(.outputDrained(empty: true))
        #expect(c.handle(.bytesAvailable(buffered: Lifecycle.lingerDiscardLimit, bodyWanted: false)) == [.discardInput])
        #expect(c.handle(.bytesAvailable(buffered: 1, bodyWanted: false)) == [.discardInput, .closeNow])
        #expect(c.phase == .closed)

        var timedOut = exchanging()
        _ = timedOut.handle(.exchangeFinished(reusable: false))
        _ = timedOut.handle(.outputDrained(empty: true))
        #expect(timedOut.handle(.readTimeout) == [.closeNow])
    }

    @Test func abortedExchangeFlushesThenResets() {
        var c = exchanging()
        #expect(c.handle(.exchangeAborted(flushFirst: true)) == [.pauseReading, .resetWhenFlushed])
        #expect(c.phase == .abortingAfterFlush)
        #expect(c.handle(.bytesAvailable(buffered: 3, bodyWanted: false)) == [.discardInput])
        #expect(c.handle(.outputDrained(empty: false)) == [])
        #expect(c.handle(.outputDrained(empty: true)) == [.resetNow])
        #expect(c.phase == .closed)

        var now = exchanging()
        #expect(now.handle(.exchangeAborted(flushFirst: false)) == [.resetNow])
    }

    @Test func abandonedExchangeLetsTheGatewayAnswer() {
        var c = exchanging()
        #expect(c.handle(.exchangeAbandoned) == [])
        #expect(c.phase == .readingHead)
        #expect(c.handle(.responseWritten(close: false)) == [.setReadTimeout(.keepAlive), .processInput])
    }

    @Test func streamingClientThatLeavesIsReportedToTheExchange() {
        var c = exchanging()
        #expect(c.handle(.endOfStream) == [.notifyExchange(.clientEnded)])
        #expect(c.handle(.closeRequested) == [.closeNow])
        #expect(c.handle(.closeRequested) == [])
    }

    @Test func authenticationPausesReading() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 80, bodyWanted: false))
        _ = c.handle(.headParsed)
        #expect(c.handle(.authenticationStarted) == [.pauseReading, .setReadTimeout(.none)])
        #expect(c.handle(.inputPassFinished) == [])
        #expect(c.handle(.bytesAvailable(buffered: 10, bodyWanted: false)) == [])
        #expect(c.handle(.authenticationFinished) == [.resumeReading])
        #expect(c.phase == .readingHead)
        #expect(c.handle(.exchangeStarted(readsBody: false)) == [.setReadTimeout(.none)])
    }

    @Test func admissionKeepsReadingAndBoundsInput() {
        var c = Lifecycle.start(proxyProtocol: false).0
        _ = c.handle(.bytesAvailable(buffered: 80, bodyWanted: false))
        _ = c.handle(.headParsed)
        #expect(c.handle(.admissionStarted) == [.setReadTimeout(.none)])
        _ = c.handle(.inputPassFinished)
        #expect(c.handle(.bytesAvailable(buffered: Lifecycle.pipelineBufferLimit + 1, bodyWanted: false)) == [.pauseReading])
        #expect(c.handle(.admissionFinished) == [.resumeReading])
        // Refused: a 429 on a kept-alive connection.
        #expect(c.handle(.responseWritten(close: false)) == [.setReadTimeout(.keepAlive), .processInput])
        // A client leaving mid-admission closes.
        var leaving = Lifecycle.start(proxyProtocol: false).0
        _ = leaving.handle(.bytesAvailable(buffered: 80, bodyWanted: false))
        _ = leaving.handle(.headParsed)
        _ = leaving.handle(.admissionStarted)
        #expect(leaving.handle(.endOfStream) == [.closeNow])
    }

    @Test func proxyHeaderComesFirstWithinTheHeaderTimeout() {
        let (started, first) = Lifecycle.start(proxyProtocol: true)
        var c = started
        #expect(c.phase == .readingProxyHeader)
        #expect(first == [.setReadTimeout(.header), .armHeadDeadline, .resumeReading])
        #expect(c.handle(.bytesAvailable(buffered: 10, bodyWanted: false)) == [.processInput])
        #expect(c.handle(.proxyHeaderRead) == [.cancelHeadDeadline, .setReadTimeout(.header)])
        #expect(c.phase == .readingHead)
        #expect(c.handle(.inputPassFinished) == [])

        var slow = Lifecycle.start(proxyProtocol: true).0
        #expect(slow.handle(.headDeadlinePassed) == [.reportProxyHeaderTimeout, .closeNow])
        var silent = Lifecycle.start(proxyProtocol: true).0
        #expect(silent.handle(.readTimeout) == [.reportProxyHeaderTimeout, .closeNow])
        var drained = Lifecycle.start(proxyProtocol: true).0
        #expect(drained.handle(.drainBegun(inputBuffered: false)) == [.closeNow])
    }

    @Test func impossibleTransitionsTrap() async {
        await #expect(processExitsWith: .failure) {
            var c = Lifecycle.start(proxyProtocol: false).0
            _ = c.handle(.exchangeFinished(reusable: true))  // no exchange runs
        }
        await #expect(processExitsWith: .failure) {
            var c = Lifecycle.start(proxyProtocol: false).0
            _ = c.handle(.inputPassFinished)  // no pass was asked for
        }
        await #expect(processExitsWith: .failure) {
            var c = Lifecycle.start(proxyProtocol: false).0
            _ = c.handle(.bytesAvailable(buffered: 1, bodyWanted: false))
            _ = c.handle(.headParsed)
            _ = c.handle(.exchangeStarted(readsBody: false))
            _ = c.handle(.headParsed)  // a head while the exchange has the connection
        }
    }
}

/// The inline action list behaves as the array it replaced.
@Suite struct LifecycleActionsTests {
    @Test func keepsOrderAcrossConcatenation() {
        let a: Lifecycle.Actions = [.cancelHeadDeadline]
        let b: Lifecycle.Actions = [.setReadTimeout(.header), .resumeReading]
        let joined = a + b + [.processInput]
        #expect(Array(joined) == [.cancelHeadDeadline, .setReadTimeout(.header), .resumeReading, .processInput])
        #expect(joined.count == Lifecycle.Actions.capacity)
        #expect(joined != a + b)
        #expect(Lifecycle.Actions().isEmpty)
        #expect(([] as Lifecycle.Actions) == Lifecycle.Actions())
    }
}
