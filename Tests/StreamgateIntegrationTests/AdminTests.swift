import Foundation
import Testing
@testable import Streamgate

@Suite struct AdminTests {
    @Test func healthReadinessAndMetrics() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), admin: true)
        #expect(gw.adminPort != 0)
        let h = try RawClient(port: gw.adminPort)
        h.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        let health = try h.readResponse()
        #expect(health.status == 200 && health.bodyText.contains("ok"))
        let r = try RawClient(port: gw.adminPort)
        r.send("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try r.readResponse().status == 200)

        let c = try gw.client()
        c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        let u = try up.accept()
        _ = try u.readHead()
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)

        // Workers publish their counters about once a second: poll the endpoint, bounded.
        var text = ""
        for _ in 0..<40 {
            let m = try RawClient(port: gw.adminPort)
            m.send("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
            text = try m.readResponse().bodyText
            if text.contains("streamgate_http_requests_total{route=\"all\",code=\"2xx\"} 1") { break }
            usleep(100_000)
        }
        #expect(text.contains("streamgate_http_requests_total{route=\"all\",code=\"2xx\"} 1"))
        #expect(text.contains("streamgate_connections_accepted_total 1"))
        #expect(text.contains("# TYPE streamgate_streams_open gauge"))

        let nf = try RawClient(port: gw.adminPort)
        nf.send("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try nf.readResponse().status == 404)
    }
}
