import Testing
import StreamgateCore

@Suite struct UpstreamFailureTests {
    static let all: [UpstreamFailure] = [
        .socketUnavailable, .connectRefused(errno: 111), .connectTimeout, .tlsHandshakeFailed(reason: "x"),
        .tlsBroken(reason: "x"), .reset(errno: 104), .closedBeforeResponse, .responseTimeout, .badResponseHead,
        .unexpectedUpgrade, .interimFlood, .transferCodingForHTTP10, .badFraming, .truncated, .idleMidResponse,
        .resetMidResponse,
    ]

    @Test func timeoutsAre504AndEverythingElse502() {
        for f in Self.all {
            let timeout = [UpstreamFailure.connectTimeout, .responseTimeout, .idleMidResponse].contains(f)
            #expect(f.status == (timeout ? 504 : 502), "\(f)")
            #expect(f.errorCode == (timeout ? "gateway_timeout" : "bad_gateway"), "\(f)")
        }
    }

    @Test func outcomesAreDistinctPerKindAndNamedForTheUpstream() {
        let outcomes = Self.all.map(\.outcome)
        for o in outcomes { #expect(o.hasPrefix("upstream_"), "\(o)") }
        // Two kinds share a label on purpose: a reset is a reset whether a head was sent or not.
        #expect(Set(outcomes).count == outcomes.count - 1)
        #expect(UpstreamFailure.reset(errno: 104).outcome == UpstreamFailure.resetMidResponse.outcome)
    }

    @Test func onlyConnectFailuresMoveToTheNextAddress() {
        let moving = Self.all.filter(\.triesNextAddress)
        #expect(moving == [.connectRefused(errno: 111), .connectTimeout])
        #expect(!UpstreamFailure.tlsHandshakeFailed(reason: "certificate has expired").triesNextAddress)
    }

    @Test func logDescriptionsAreDistinctAndCarryTheirDetail() {
        let texts = Self.all.map(\.logDescription)
        #expect(Set(texts).count == texts.count)
        #expect(UpstreamFailure.connectRefused(errno: 111).logDescription == "refused (errno 111)")
        #expect(UpstreamFailure.tlsHandshakeFailed(reason: "certificate has expired").logDescription == "TLS failed: certificate has expired")
        #expect(UpstreamFailure.interimFlood.logDescription == "sent more than \(ExchangeLifecycle.maxInterimResponses) interim responses")
    }
}
