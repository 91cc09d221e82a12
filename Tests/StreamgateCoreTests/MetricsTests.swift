import Testing
@testable import StreamgateCore

@Suite("Metrics")
struct MetricsTests {
    @Test func everyDenialReasonMapsToItsOutcome() {
        let expected: [(DenialReason, AuthOutcome, String)] = [
            (.missingToken, .missing, "missing"),
            (.malformedToken, .invalid, "invalid"),
            (.unknownToken, .invalid, "invalid"),
            (.apiKeyInQuery, .invalid, "invalid"),
            (.expiredToken, .expired, "expired"),
            (.insufficientScope, .scope, "scope"),
            (.tenantMismatch, .tenant, "tenant"),
            (.originNotAllowed, .origin, "origin"),
            (.storeUnavailable, .storeUnavailable, "store_unavailable"),
        ]
        for (reason, outcome, label) in expected {
            #expect(AuthOutcome(reason) == outcome, "\(reason)")
            #expect(AuthOutcome(reason).label == label)
        }
        #expect(AuthOutcome.allCases.map(\.label) == ["ok", "missing", "invalid", "expired", "scope", "tenant", "origin", "store_unavailable"])
        // Raw values index the per-route arrays: dense from 0.
        #expect(AuthOutcome.allCases.map(\.rawValue) == Array(0..<AuthOutcome.allCases.count))
    }

    @Test func denialsFromThePolicyCarryTheOutcome() {
        let wall: Int64 = 1_700_000_000
        let route = RouteAuthPolicy(mode: .required, requiredScopes: ["s"], tenantParameter: "t",
                                    corsOrigins: .list([WebOrigin("https://a.example")!]))
        let good = SessionRecord(userID: "u", tenantID: "acme", expiresAt: wall + 60, scopes: ["s"])
        var noScope = good
        noScope.scopes = []
        let expired = SessionRecord(userID: "u", tenantID: "acme", expiresAt: wall - 1, scopes: ["s"])
        func outcome(_ c: PresentedCredential, tenant: String = "acme", origin: String? = nil) -> AuthOutcome? {
            if case .deny(let d) = AuthPolicy.decide(route: route, credential: c, origin: origin, pathParameters: ["t": tenant], wallNow: wall) {
                return AuthOutcome(d.reason)
            }
            return nil
        }
        #expect(outcome(.missing) == .missing)
        #expect(outcome(.unknown) == .invalid)
        #expect(outcome(.malformed(.empty)) == .invalid)
        #expect(outcome(.session(expired, source: .authorizationHeader)) == .expired)
        #expect(outcome(.session(noScope, source: .authorizationHeader)) == .scope)
        #expect(outcome(.session(good, source: .authorizationHeader), tenant: "other") == .tenant)
        #expect(outcome(.session(good, source: .authorizationHeader), origin: "https://b.example") == .origin)
        #expect(outcome(.session(good, source: .authorizationHeader)) == nil)
        #expect(AuthOutcome(AuthPolicy.storeUnavailable(retryAfterSeconds: 1).reason) == .storeUnavailable)
    }

    @Test func streamEndReasonsMapFromTheTimerOnce() {
        let expected: [(SSEEndReason, StreamEndReason)] = [
            (.maxDuration, .maxDuration), (.sessionExpired, .sessionExpired), (.revoked, .revoked),
            (.draining, .drain), (.upstreamIdle, .idle),
        ]
        #expect(expected.count == SSEEndReason.allCases.count)
        for (sse, end) in expected { #expect(StreamEndReason(sse) == end, "\(sse)") }
        #expect(StreamEndReason.allCases.map(\.label) == [
            "client", "upstream_end", "upstream_error", "idle", "max_duration", "session_expired", "revoked", "drain",
            "slow_consumer", "limit",
        ])
        #expect(StreamEndReason.allCases.map(\.rawValue) == Array(0..<StreamEndReason.allCases.count))
    }

    @Test func statusClasses() {
        #expect([100, 199, 200, 204, 304, 404, 499, 500, 599].map(StatusClass.index) == [0, 0, 1, 1, 2, 3, 3, 4, 4])
        #expect(StatusClass.index(0) == 0 && StatusClass.index(999) == 4)
    }

    @Test func histogramBucketsAreInclusiveUpperBounds() {
        let b = HistogramBuckets(seconds: ["0.001", "0.01", "1"])
        #expect(b.boundsNanos == [1_000_000, 10_000_000, 1_000_000_000])
        var h = Histogram(buckets: b)
        for ns: UInt64 in [0, 1_000_000, 1_000_001, 10_000_000, 999_999_999, 1_000_000_001, 5_000_000_000] {
            h.observe(nanos: ns, buckets: b)
        }
        #expect(h.counts == [2, 2, 1, 2])
        #expect(h.cumulative == [2, 4, 5, 7])
        #expect(h.count == 7)
        #expect(h.sumNanos == 0 + 1_000_000 + 1_000_001 + 10_000_000 + 999_999_999 + 1_000_000_001 + 5_000_000_000)
        var twice = h
        twice.add(h)
        #expect(twice.counts == [4, 4, 2, 4] && twice.sumNanos == 2 * h.sumNanos)
        // The shipped layouts are strictly ascending.
        for layout in [HistogramBuckets.request, .connect] {
            #expect(zip(layout.boundsNanos, layout.boundsNanos.dropFirst()).allSatisfy { $0 < $1 })
            #expect(!layout.boundsNanos.contains(.max))
        }
    }

    @Test func decimalSeconds() {
        #expect(PrometheusText.nanoseconds(decimalSeconds: "0.0005") == 500_000)
        #expect(PrometheusText.nanoseconds(decimalSeconds: "30") == 30_000_000_000)
        #expect(PrometheusText.nanoseconds(decimalSeconds: "2.5") == 2_500_000_000)
        for bad in ["", ".5", "1.", "1e3", "-1", "0.0000000001", "1.2.3", "x"] {
            #expect(PrometheusText.nanoseconds(decimalSeconds: bad) == nil, "\(bad)")
        }
        #expect(PrometheusText.seconds(nanos: 0) == "0")
        #expect(PrometheusText.seconds(nanos: 1_500_000) == "0.0015")
        #expect(PrometheusText.seconds(nanos: 2_000_000_000) == "2")
        #expect(PrometheusText.seconds(nanos: 12_000_000_001) == "12.000000001")
    }

    @Test func labelValuesAndHelpAreEscaped() {
        #expect(PrometheusText.escapeLabelValue("plain-route") == "plain-route")
        #expect(PrometheusText.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        #expect(PrometheusText.escapeHelp(#"x\y"# + "\n\"q\"") == #"x\\y\n"q""#)
        var p = PrometheusText()
        p.family("m_total", "counter", "Help.")
        p.sample("m_total", [("route", #"we"ird\"#)], 3)
        #expect(p.text == "# HELP m_total Help.\n# TYPE m_total counter\n" + #"m_total{route="we\"ird\\"} 3"# + "\n")
    }

    @Test func histogramRendering() {
        let b = HistogramBuckets(seconds: ["0.1", "1"])
        var h = Histogram(buckets: b)
        h.observe(nanos: 50_000_000, buckets: b)
        h.observe(nanos: 2_000_000_000, buckets: b)
        var p = PrometheusText()
        p.histogram("d_seconds", [("route", "r")], h, buckets: b)
        #expect(p.text == """
            d_seconds_bucket{route="r",le="0.1"} 1
            d_seconds_bucket{route="r",le="1"} 1
            d_seconds_bucket{route="r",le="+Inf"} 2
            d_seconds_sum{route="r"} 2.05
            d_seconds_count{route="r"} 2

            """)
    }

    @Test func buildInfoNamesTheCompiler() {
        #expect(StreamgateVersion.swiftCompiler.hasPrefix("6."))
    }
}
