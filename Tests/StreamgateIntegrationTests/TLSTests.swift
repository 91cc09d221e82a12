import Foundation
import Testing
@testable import Streamgate
import StreamgateCore
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// TLS on both sides, with certificates made at run time (`TestCertificates`). The listener is
/// driven by Python's ssl module (an independent client) and the upstream side talks to a real
/// nginx terminating TLS in front of a recording origin, so neither end tests our code against
/// itself.
@Suite(.serialized) struct TLSTests {
    // MARK: - Listener

    @Test func listenerServesBothVersionsALPNAndPicksTheCertificateBySNI() throws {
        let certs = try TestCertificates()
        let main = try certs.issue(["localhost", "127.0.0.1"])
        let other = try certs.issue(["other.test"])
        let up = try RecordingUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: """
            tls_cert = "\(main.certificate)"
            tls_key = "\(main.key)"
            [[listeners.certificates]]
            cert = "\(other.certificate)"
            key = "\(other.key)"
            """)
        let r = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/hello")
        #expect(r["error"] == nil, "\(r)")
        #expect(r["status"] as? Int == 200)
        #expect(r["subject_cn"] as? String == "localhost")
        #expect(r["alpn"] as? String == "http/1.1")
        #expect(r["version"] as? String == "TLSv1.3")
        let seen = try up.waitForRequests(1)
        #expect(seen[0].header("x-forwarded-proto") == "https")
        #expect(seen[0].header("forwarded")?.contains("proto=https") == true)

        let sni = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "other.test", path: "/x")
        #expect(sni["subject_cn"] as? String == "other.test", "\(sni)")
        #expect(sni["status"] as? Int == 200)

        let v12 = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/x", extra: ["--max-version", "TLSv1_2"])
        #expect(v12["version"] as? String == "TLSv1.2", "\(v12)")
        #expect(v12["status"] as? Int == 200)

        // RFC 7301 §3.2: no protocol in common is a fatal alert, not a silent fallback.
        let h2only = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/x", extra: ["--alpn", "h2"])
        #expect((h2only["error"] as? String)?.contains("no application protocol") == true, "\(h2only)")
        let old = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/x", extra: ["--max-version", "TLSv1_1"])
        #expect(old["error"] != nil, "TLS 1.1 is refused: \(old)")
        #expect(up.requests.count == 3)
    }

    @Test func eventStreamAndLargeBodiesCrossTLSIntact() throws {
        let certs = try TestCertificates()
        let leaf = try certs.issue(["localhost"])
        let big = String(repeating: "0123456789abcdef", count: 128 * 1024)  // 2 MiB: many records, partial writes
        let up = try RecordingUpstream { req in
            req.path == "/big" ? .full(status: 200, headers: [("Content-Type", "text/plain")], body: big)
                : .events(intervalMilliseconds: 2, count: 200)
        }
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: """
            tls_cert = "\(leaf.certificate)"
            tls_key = "\(leaf.key)"
            """)
        let stream = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/v1/events", extra: ["--events", "200"])
        #expect(stream["status"] as? Int == 200, "\(stream)")
        let data = ((stream["body"] as? String) ?? "").components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }
        #expect(data == (1...200).map { "data: tick \($0)" }, "every event, in order")
        let body = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/big")
        #expect(body["status"] as? Int == 200)
        #expect((body["body"] as? String)?.count == big.count)
        #expect(body["body"] as? String == big)
    }

    /// Behind an L4 balancer the PROXY header comes in the clear, then the TLS handshake
    /// (often in the same packet): the address it names is the client's.
    @Test func proxyProtocolHeaderBeforeTheHandshake() throws {
        let certs = try TestCertificates()
        let leaf = try certs.issue(["localhost"])
        let up = try RecordingUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: """
            proxy_protocol = true
            tls_cert = "\(leaf.certificate)"
            tls_key = "\(leaf.key)"
            """)
        let r = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/p",
                                 extra: ["--proxy-v1", "PROXY TCP4 203.0.113.7 10.0.0.1 51234 443"])
        #expect(r["status"] as? Int == 200, "\(r)")
        let seen = try up.waitForRequests(1)
        #expect(seen[0].header("x-forwarded-for") == "203.0.113.7")
        #expect(seen[0].header("x-forwarded-proto") == "https")
        // The header and the ClientHello in one segment: the handshake's first bytes were read
        // with the header and must reach TLS ahead of the socket's.
        let together = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/c",
                                        extra: ["--proxy-v1", "PROXY TCP4 198.51.100.9 10.0.0.1 40000 443", "--coalesce"])
        #expect(together["status"] as? Int == 200, "\(together)")
        #expect(try up.waitForRequests(2)[1].header("x-forwarded-for") == "198.51.100.9")
        // Without the header the handshake bytes are not a PROXY header: closed, nothing forwarded.
        let bare = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost", path: "/q")
        #expect(bare["error"] != nil, "\(bare)")
        #expect(up.requests.count == 2)
    }

    @Test func reloadServesRenewedCertificatesAndABrokenOneChangesNothing() throws {
        let certs = try TestCertificates()
        let first = try certs.issue(["localhost"])
        let renewed = try certs.issue(["renewed.localhost", "localhost"])
        let up = try RecordingUpstream()
        let toml = simpleConfig(upstreamPort: up.port)
        let gw = try GatewayHarness(toml: toml, listenerExtra: "tls_cert = \"\(first.certificate)\"\ntls_key = \"\(first.key)\"\n")
        #expect(try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost")["subject_cn"] as? String == "localhost")
        let missing = "[[listeners]]\naddress = \"127.0.0.1:0\"\ntls_cert = \"\(certs.directory)/nope.pem\"\ntls_key = \"\(first.key)\"\n"
        #expect(throws: SettingsError.self) { try gw.reload(toml: toml, listeners: missing) }
        #expect(try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost")["subject_cn"] as? String == "localhost")
        try gw.reload(toml: toml, listeners: "[[listeners]]\naddress = \"127.0.0.1:0\"\ntls_cert = \"\(renewed.certificate)\"\ntls_key = \"\(renewed.key)\"\n")
        let after = try TLSProbe.run(port: gw.port, ca: certs.caCertificate, serverName: "localhost")
        #expect(after["subject_cn"] as? String == "renewed.localhost", "\(after)")
    }

    @Test func unloadableCertificatesAreReportedWithTheirLine() throws {
        let certs = try TestCertificates()
        let leaf = try certs.issue(["localhost"])
        let other = try certs.issue(["other.test"])
        let text = "[upstreams.up]\ntargets = [\"127.0.0.1:1\"]\n[[routes]]\nname = \"r\"\npath_prefix = \"/\"\nupstream = \"up\"\n"
            + "[[listeners]]\naddress = \"127.0.0.1:0\"\ntls_cert = \"\(leaf.certificate)\"\ntls_key = \"\(other.key)\"\n"
        guard case .success(let config) = ConfigLoader.load(text: text, fileName: "gw.toml", environment: [:]) else {
            Issue.record("config should decode")
            return
        }
        #expect(throws: SettingsError.self) { try ProxySettings(config: config) }
        do { _ = try ProxySettings(config: config) } catch {
            #expect(error.description.hasPrefix("gw.toml:9: listener 127.0.0.1:0: cannot load private key"), "\(error.description)")
            #expect(error.description.contains("key values mismatch"), "\(error.description)")
        }
    }

    // MARK: - Upstream

    /// nginx terminating TLS with `leaf`, proxying to `origin` without buffering.
    private static func nginxFront(_ leaf: TestCertificates.Pair, origin: UInt16, extra: String = "") throws -> NginxServer {
        try NginxServer { port in
            """
                    listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(leaf.certificate);
                    ssl_certificate_key \(leaf.key);
                    \(extra)
                    location / {
                        proxy_pass http://127.0.0.1:\(origin);
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                    }
            """
        }
    }

    @Test func upstreamTLSIsVerifiedAndRelaysStreams() throws {
        let certs = try TestCertificates()
        let leaf = try certs.issue(["localhost", "127.0.0.1"])
        let origin = try RecordingUpstream()
        let nginx = try Self.nginxFront(leaf, origin: origin.port)
        defer { nginx.stop() }
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: nginx.port, upstreamExtra: "tls = true\nca_file = \"\(certs.caCertificate)\"\n"),
                                    admin: true)
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200 && r.bodyText.hasPrefix("ok"), "\(r.status) \(r.bodyText) \(gw.errorLogText)")
        c.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        // The second request went over the pooled TLS connection: the session tickets TLS 1.3
        // servers send after the handshake do not count as unexpected bytes on an idle one.
        // Workers publish their counters periodically: poll (bounded) until the two requests show.
        var lines: [Substring] = []
        let deadline = Date().addingTimeInterval(5)
        repeat {
            let m = try RawClient(port: gw.adminPort)
            m.send("GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            lines = try m.readResponse().bodyText.split(separator: "\n").filter { $0.hasPrefix("streamgate_upstream_connections_") }
            if lines.contains("streamgate_upstream_connections_opened_total{upstream=\"up\"} 1") { break }
            usleep(50_000)
        } while Date() < deadline
        #expect(lines.contains("streamgate_upstream_connections_opened_total{upstream=\"up\"} 1"), "\(lines)")
        #expect(lines.contains("streamgate_upstream_connections_reused_total{upstream=\"up\"} 1"), "\(lines)")
        let s = try SSETestClient(port: gw.port, path: "/feed/events?count=30&interval_ms=2")
        #expect(s.status == 200)
        try s.read(until: { $0.isFinished }, what: "the end of the stream")
        #expect(s.events.map(\.data) == (1...30).map { "tick \($0)" })
        let seen = try origin.waitForRequests(3)
        #expect(seen.map(\.path) == ["/a", "/b", "/feed/events"])
    }

    @Test func upstreamCertificateProblemsAreRefused() throws {
        let certs = try TestCertificates()
        let strangers = try TestCertificates(name: "someone else's CA")
        let valid = try certs.issue(["localhost", "127.0.0.1"])
        let expired = try certs.issue(["localhost", "127.0.0.1"], expired: true)
        let origin = try RecordingUpstream()
        let good = try Self.nginxFront(valid, origin: origin.port)
        let stale = try Self.nginxFront(expired, origin: origin.port)
        defer { good.stop(); stale.stop() }
        let cases: [(port: UInt16, extra: String, reason: String)] = [
            (good.port, "ca_file = \"\(strangers.caCertificate)\"", "unable to get local issuer certificate"),
            (stale.port, "ca_file = \"\(certs.caCertificate)\"", "certificate has expired"),
            (good.port, "ca_file = \"\(certs.caCertificate)\"\nserver_name = \"wrong.test\"", "hostname mismatch"),
        ]
        for (port, extra, reason) in cases {
            let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: port, upstreamExtra: "tls = true\n" + extra))
            let c = try gw.client()
            c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 502, "\(reason): \(r.status)")
            #expect(gw.errorLogText.contains(reason), "\(reason) in: \(gw.errorLogText)")
            gw.stop()
        }
        #expect(origin.requests.isEmpty, "nothing reached the origin through a refused upstream")
    }

    @Test func upstreamClientCertificateIsPresented() throws {
        let certs = try TestCertificates()
        let leaf = try certs.issue(["localhost", "127.0.0.1"])
        let client = try certs.issue(["gateway.client"], clientAuth: true)
        let origin = try RecordingUpstream()
        let nginx = try Self.nginxFront(leaf, origin: origin.port, extra: """
            ssl_verify_client on;
                    ssl_client_certificate \(certs.caCertificate);
            """)
        defer { nginx.stop() }
        let base = "tls = true\nca_file = \"\(certs.caCertificate)\"\n"
        let without = try GatewayHarness(toml: simpleConfig(upstreamPort: nginx.port, upstreamExtra: base))
        let c1 = try without.client()
        c1.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c1.readResponse().status == 400, "nginx refuses a client without a certificate")
        without.stop()
        let with = try GatewayHarness(toml: simpleConfig(upstreamPort: nginx.port, upstreamExtra: base
            + "tls_cert = \"\(client.certificate)\"\ntls_key = \"\(client.key)\"\n"))
        let c2 = try with.client()
        c2.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c2.readResponse().status == 200)
        #expect(origin.requests.count == 1)
    }
}

/// Runs `Tests/tools/tls_probe.py` and returns its JSON answer.
enum TLSProbe {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/tls_probe.py").path

    static func run(port: UInt16, ca: String, serverName: String, path: String = "/", extra: [String] = []) throws -> [String: Any] {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestError("python3 is not installed: the TLS tests use its ssl module as a client; run scripts/install-deps.sh")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sg-probe-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let pid = try ChildProcess.spawn(python, [script, "--port", String(port), "--ca", ca, "--server-name", serverName, "--path", path] + extra,
                                         stdout: .file(out))
        ChildProcess.reap(pid)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestError("tls_probe.py printed no JSON: \(text.prefix(300))")
        }
        return obj
    }
}
