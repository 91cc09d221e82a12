import Testing
@testable import Streamgate
import StreamgateCore
import StreamgateIO

/// How connection events become upstream failures (no sockets: the mapping is pure).
@Suite struct UpstreamFailureMappingTests {
    @Test func beforeTheHeadConnectingAndConnectedDiffer() {
        #expect(ProxyExchange.failureBeforeHead(.writeTimeout, connected: false) == .connectTimeout)
        #expect(ProxyExchange.failureBeforeHead(.readTimeout, connected: true) == .responseTimeout)
        #expect(ProxyExchange.failureBeforeHead(.error(111), connected: false) == .connectRefused(errno: 111))
        #expect(ProxyExchange.failureBeforeHead(.error(104), connected: true) == .reset(errno: 104))
        #expect(ProxyExchange.failureBeforeHead(.tlsFailure("bad"), connected: false) == .tlsHandshakeFailed(reason: "bad"))
        #expect(ProxyExchange.failureBeforeHead(.tlsFailure("bad"), connected: true) == .tlsBroken(reason: "bad"))
        #expect(ProxyExchange.failureBeforeHead(.endOfStream, connected: true) == .closedBeforeResponse)
    }

    @Test func afterTheHead() {
        #expect(ProxyExchange.failureMidResponse(.endOfStream) == .truncated)
        #expect(ProxyExchange.failureMidResponse(.readTimeout) == .idleMidResponse)
        #expect(ProxyExchange.failureMidResponse(.error(104)) == .resetMidResponse)
        #expect(ProxyExchange.failureMidResponse(.tlsFailure("x")) == .tlsBroken(reason: "x"))
        #expect(UpstreamFailure.tlsHandshakeFailed(reason: "certificate verify failed: certificate has expired").logDescription
            == "TLS failed: certificate verify failed: certificate has expired")
    }
}
