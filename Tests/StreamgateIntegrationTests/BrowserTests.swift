import Foundation
import Testing

/// A real browser against the gateway: a page served from `http://localhost:P` (one origin)
/// talks to the gateway at `http://127.0.0.1:G` (another origin) with `EventSource` and
/// `fetch`, so the CORS answers are judged by Chromium itself, not by our reading of the spec.
///
/// The page reports by requesting `/result?v=...` from its own server; the test waits for
/// that request. Chromium missing is a failure (CI installs it), never a skip.
@Suite(.serialized) struct BrowserTests {
    /// Runs `script` in a page at `http://localhost:<port>/page` and returns what it reported.
    /// `prepare` gets the page's origin before the browser starts (to write the session).
    private func runPage(_ script: String, timeout: Double = 10, prepare: (String) throws -> Void) throws -> (result: String, origin: String) {
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>streamgate</title></head>
            <body><pre id="out">running</pre><script>
            function report(v) {
              document.getElementById('out').textContent = v;
              fetch('/result?v=' + encodeURIComponent(v)).catch(function () {});
            }
            try {
            \(script)
            } catch (e) { report('exception:' + e); }
            </script></body></html>
            """
        let page = try RecordingUpstream(handler: { req in
            switch req.path {
            case "/page": return .full(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], body: html)
            default: return .full(status: 204, headers: [], body: "")
            }
        })
        defer { page.stop() }
        let origin = "http://localhost:\(page.port)"
        try prepare(origin)
        let browser = try HeadlessChromium(url: origin + "/page")
        defer { browser.close() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = page.requests.first(where: { $0.path == "/result" }) {
                let raw = r.param("v") ?? ""
                return (raw.removingPercentEncoding ?? raw, origin)
            }
            usleep(10_000)
        }
        throw TestError("the page reported nothing within \(timeout)s; it requested \(page.requests.map(\.target))")
    }

    private func eventSourceScript(gateway: UInt16, token: String) -> String {
        """
        var got = [];
        var es = new EventSource('http://127.0.0.1:\(gateway)/sc/events?interval_ms=30&access_token=\(token)');
        es.onmessage = function (e) {
          got.push(e.lastEventId + '=' + e.data);
          if (got.length === 3) { es.close(); report('events:' + got.join(',')); }
        };
        es.onerror = function () {
          if (got.length < 3) { var s = es.readyState; es.close(); report('error:state=' + s + ':got=' + got.length); }
        };
        """
    }

    @Test func eventSourceWithQueryTokenReceivesEvents() throws {
        let rig = try AuthRig()
        let token = randomToken()
        let script = eventSourceScript(gateway: rig.gateway.port, token: token)
        let (result, origin) = try runPage(script) { rig.redis.putSession(token, user: "browser-user", origins: $0) }
        #expect(result == "events:1=tick 1,2=tick 2,3=tick 3")
        let up = try #require(rig.upstream.requests.first)
        #expect(up.target == "/sc/events?interval_ms=30", "the token never reaches the upstream")
        #expect(up.values("X-Auth-User-Id") == ["browser-user"])
        #expect(up.header("origin") == origin)
        #expect(!rig.gateway.accessLogText.contains(token))
    }

    @Test func eventSourceFromDisallowedOriginIsRefused() throws {
        let rig = try AuthRig()
        let token = randomToken()
        let script = eventSourceScript(gateway: rig.gateway.port, token: token)
        let (result, _) = try runPage(script) { _ in rig.redis.putSession(token, origins: "http://localhost:1 https://app.example.com") }
        #expect(result == "error:state=2:got=0", "EventSource fails for good on a 403")
        #expect(rig.upstream.requests.isEmpty)
        let log = rig.gateway.accessLog()
        #expect(log.contains { $0["status"] as? Int == 403 && $0["route"] as? String == "session-cors" })
    }

    @Test func fetchWithAuthorizationPassesPreflightAndReadsStream() throws {
        let rig = try AuthRig()
        let token = randomToken()
        let script = """
            (async function () {
              try {
                var res = await fetch('http://127.0.0.1:\(rig.gateway.port)/sc/events?interval_ms=30',
                                      { headers: { 'Authorization': 'Bearer \(token)', 'Last-Event-ID': '7' } });
                var reader = res.body.getReader(), dec = new TextDecoder(), text = '';
                while ((text.match(/data: tick \\d+\\n/g) || []).length < 3) {
                  var chunk = await reader.read();
                  if (chunk.done) break;
                  text += dec.decode(chunk.value, { stream: true });
                }
                reader.cancel();
                report('fetch:' + res.status + ':' + (text.match(/data: tick \\d+/g) || []).slice(0, 3).join(','));
              } catch (e) { report('fetch-error:' + e); }
            })();
            """
        let (result, origin) = try runPage(script) { rig.redis.putSession(token, user: "browser-user", origins: $0) }
        #expect(result == "fetch:200:data: tick 1,data: tick 2,data: tick 3")
        let log = rig.gateway.accessLog(minLines: 2)
        #expect(log.contains { $0["method"] as? String == "OPTIONS" && $0["status"] as? Int == 204 }, "the browser sent a preflight")
        #expect(log.contains { $0["method"] as? String == "GET" && $0["status"] as? Int == 200 })
        let up = try #require(rig.upstream.requests.first)
        #expect(up.header("authorization") == nil)
        #expect(up.values("Last-Event-ID") == ["7"])
        #expect(up.header("origin") == origin)
    }
}
