import Testing
@testable import StreamgateCore

/// The access log's outcome texts: tests, dashboards and docs/ match on them, so each is pinned.
@Suite struct ExchangeOutcomeTests {
    @Test func gatewayOutcomesKeepTheirLogText() {
        #expect(ExchangeOutcome.requestBodyTooLarge.logText == "body_too_large")
        #expect(ExchangeOutcome.badRequestBody.logText == "bad_request_body")
        #expect(ExchangeOutcome.clientBodyTimeout.logText == "client_body_timeout")
        #expect(ExchangeOutcome.clientGone.logText == "client_gone")
        #expect(ExchangeOutcome.slowConsumer.logText == "slow_consumer")
    }

    @Test func streamEndsArePrefixed() {
        #expect(SSEEndReason.allCases.map { ExchangeOutcome.streamEnded($0).logText } == [
            "stream_max_duration", "stream_session_expired", "stream_revoked", "stream_draining", "stream_upstream_idle",
        ])
    }

    @Test func upstreamFailuresUseTheirOwnText() {
        #expect(ExchangeOutcome.upstream(.truncated).logText == "upstream_truncated")
        #expect(ExchangeOutcome.upstream(.resetMidResponse).logText == "upstream_reset")
        #expect(ExchangeOutcome.upstream(.connectTimeout).logText == "upstream_connect_timeout")
    }
}
