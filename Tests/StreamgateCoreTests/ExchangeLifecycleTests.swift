import Testing
@testable import StreamgateCore

/// Every transition of an exchange's lifecycle, driven without sockets.
@Suite struct ExchangeLifecycleTests {
    func plan(stream: Bool = false, keepAlive: Bool = true, framing: ResponsePlan.ClientFraming = .contentLength) -> ResponsePlan {
        ResponsePlan(bodyFraming: .contentLength(1), clientFraming: framing, keepAlive: keepAlive, isStream: stream, head: [])
    }

    /// A GET connected and waiting for its head.
    func awaitingHead(method: String = "GET", framing: BodyFraming = .none) -> ExchangeLifecycle {
        var l = ExchangeLifecycle(method: method, requestFraming: framing)
        l.connectStarted()
        l.connected()
        return l
    }

    @Test func plainRequestRunsToAReusableEnd() {
        var l = ExchangeLifecycle(method: "GET", requestFraming: .none)
        #expect(l.phase == .idle)
        #expect(l.requestBodyDone)
        l.connectStarted()
        #expect(l.phase == .connecting)
        #expect(l.attempts == 1)
        l.connected()
        #expect(l.phase == .awaitingHead)
        l.finalHead(plan())
        #expect(l.phase == .relaying)
        #expect(l.hasResponseHead)
        let step1 = l.responseBodyEnded()
        #expect(step1)
        #expect(l.phase == .done)
        #expect(l.end == .complete(reusable: true))
    }

    @Test func responseWithoutKeepAliveIsNotReusable() {
        var l = awaitingHead()
        l.finalHead(plan(keepAlive: false))
        let step2 = l.responseBodyEnded()
        #expect(step2)
        #expect(l.end == .complete(reusable: false))
    }

    @Test func staleReusedConnectionIsRetriedOnceForIdempotentRequestsWithoutBody() {
        let l = awaitingHead()
        #expect(l.failedBeforeHead(.closedBeforeResponse, staleReusedConnection: true, requestBodyTaken: false) == .retryOnFreshConnection)
        // Not stale (timed out, or a fresh connection): no retry.
        #expect(l.failedBeforeHead(.closedBeforeResponse, staleReusedConnection: false, requestBodyTaken: false) == .fail)
        // A POST, or a request with a body, may have been acted on: never sent twice.
        #expect(awaitingHead(method: "POST").failedBeforeHead(.closedBeforeResponse, staleReusedConnection: true, requestBodyTaken: false) == .fail)
        let withBody = awaitingHead(method: "PUT", framing: .contentLength(3))
        #expect(withBody.failedBeforeHead(.reset(errno: 104), staleReusedConnection: true, requestBodyTaken: false) == .fail)
        // Only once: the second connect counts as the retry.
        var again = awaitingHead()
        again.connectStarted()
        again.connected()
        #expect(again.attempts == 2)
        #expect(again.failedBeforeHead(.closedBeforeResponse, staleReusedConnection: true, requestBodyTaken: false) == .fail)
    }

    @Test func connectFailuresTryTheNextAddressUnlessBodyBytesWereTaken() {
        var l = ExchangeLifecycle(method: "POST", requestFraming: .chunked)
        l.connectStarted()
        #expect(l.failedBeforeHead(.connectRefused(errno: 111), staleReusedConnection: false, requestBodyTaken: false) == .tryNextAddress)
        #expect(l.failedBeforeHead(.connectTimeout, staleReusedConnection: false, requestBodyTaken: false) == .tryNextAddress)
        #expect(l.failedBeforeHead(.connectRefused(errno: 111), staleReusedConnection: false, requestBodyTaken: true) == .fail)
        // A TLS refusal is the same at every address.
        #expect(l.failedBeforeHead(.tlsHandshakeFailed(reason: "cert"), staleReusedConnection: false, requestBodyTaken: false) == .fail)
        l.connectStarted()
        #expect(l.phase == .connecting)
        #expect(l.attempts == 2)
    }

    @Test func failureBeforeHeadAnswersWithAnErrorResponseOnce() {
        var l = awaitingHead()
        let step3 = l.failed()
        #expect(step3 == .sendErrorResponse)
        #expect(l.end == .errorResponse)
        let step4 = l.failed()
        #expect(step4 == .ignore)
        let step5 = l.aborted()
        #expect(!step5)
        let step6 = l.clientLeft()
        #expect(!step6)
        #expect(l.end == .errorResponse)
    }

    @Test func failureAfterHeadAborts() {
        var l = awaitingHead()
        l.finalHead(plan())
        let step7 = l.failed()
        #expect(step7 == .abort)
        #expect(l.end == .aborted)
        let step8 = l.failed()
        #expect(step8 == .ignore)
    }

    @Test func interimHeadsAreRelayedUpToTheLimit() {
        var l = awaitingHead()
        let step9 = l.interimHead(status: 100)
        #expect(step9 == .relay(armFinalResponseTimer: true))
        for _ in 2...ExchangeLifecycle.maxInterimResponses {
            let step10 = l.interimHead(status: 103)
            #expect(step10 == .relay(armFinalResponseTimer: false))
        }
        let step11 = l.interimHead(status: 100)
        #expect(step11 == .fail(.interimFlood))
        #expect(awaitingHead().interimHeadResult(101) == .fail(.unexpectedUpgrade))
    }

    @Test func finalResponseTimeoutFailsOnlyWhileWaitingForTheHead() {
        var l = awaitingHead()
        _ = l.interimHead(status: 100)
        #expect(l.finalResponseTimedOut() == .responseTimeout)
        l.finalHead(plan())
        #expect(l.finalResponseTimedOut() == nil)
        var gone = awaitingHead()
        let step12 = gone.clientLeft()
        #expect(step12)
        #expect(gone.finalResponseTimedOut() == nil)
    }

    @Test func requestBodyStillComingWhenTheResponseEnds() {
        // The upstream answered early (413): the rest of the body cannot be told from a next
        // request, so the exchange ends without keep-alive.
        var early = awaitingHead(method: "POST", framing: .contentLength(10))
        #expect(!early.requestBodyDone)
        early.finalHead(plan())
        let step13 = early.responseBodyEnded()
        #expect(step13)
        #expect(early.end == .complete(reusable: false))
        // A close-delimited response waits for the request body, then ends (never reusable).
        var closeDelimited = awaitingHead(method: "POST", framing: .chunked)
        closeDelimited.finalHead(plan(keepAlive: false, framing: .closeDelimited))
        let step14 = closeDelimited.responseBodyEnded()
        #expect(!step14)
        #expect(closeDelimited.phase == .relaying)
        let step15 = closeDelimited.requestBodyEnded()
        #expect(step15)
        #expect(closeDelimited.end == .complete(reusable: false))
    }

    @Test func requestBodyEndingFirstWaitsForTheResponse() {
        var l = awaitingHead(method: "POST", framing: .contentLength(3))
        let step16 = l.requestBodyEnded()
        #expect(!step16)
        #expect(l.requestBodyDone)
        l.finalHead(plan())
        let step17 = l.responseBodyEnded()
        #expect(step17)
        #expect(l.end == .complete(reusable: true))
    }

    @Test func streamReadsDirectlyAndEndsCleanlyWithoutKeepAlive() {
        var l = awaitingHead()
        l.finalHead(plan(stream: true, framing: .chunked))
        #expect(l.phase == .streaming)
        l.readDirectly()
        #expect(l.readsDirectly)
        let step18 = l.streamEndedCleanly()
        #expect(step18)
        #expect(l.end == .complete(reusable: false))
        let step19 = l.streamEndedCleanly()
        #expect(!step19)
    }

    @Test func clientGoneMidStreamEndsItOnce() {
        var l = awaitingHead()
        l.finalHead(plan(stream: true, framing: .chunked))
        let step20 = l.clientLeft()
        #expect(step20)
        #expect(l.end == .clientGone)
        let step21 = l.clientLeft()
        #expect(!step21)
        let step22 = l.aborted()
        #expect(!step22)
        let step23 = l.failed()
        #expect(step23 == .ignore)
        let step24 = l.streamEndedCleanly()
        #expect(!step24)
    }

    @Test func drainDropsKeepAlive() {
        var l = awaitingHead()
        l.finalHead(plan())
        l.drain()
        let step25 = l.responseBodyEnded()
        #expect(step25)
        #expect(l.end == .complete(reusable: false))
    }

    @Test func upstreamEndedStreamCompletesReusably() {
        var l = awaitingHead()
        l.finalHead(plan(stream: true, framing: .chunked))
        let step26 = l.responseBodyEnded()
        #expect(step26)
        #expect(l.end == .complete(reusable: true))
    }
}

extension ExchangeLifecycle {
    /// `interimHead` on a copy, for one-line expectations.
    func interimHeadResult(_ status: Int) -> Interim {
        var copy = self
        return copy.interimHead(status: status)
    }
}
