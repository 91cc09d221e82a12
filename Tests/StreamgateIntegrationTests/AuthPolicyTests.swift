import Foundation
import Testing

/// Scope, tenant and origin checks, and CORS, for valid sessions.
@Suite struct AuthPolicyTests {
    // RFC 6750's insufficient_scope only for scopes; tenant and origin say why without a code.
    static let scopeChallenge = "Bearer realm=\"streamgate\", error=\"insufficient_scope\", "
        + "error_description=\"the token lacks a scope this route requires\", scope=\"events:read\""
    static let tenantChallenge = "Bearer realm=\"streamgate\", error_description=\"the token's tenant does not match the route\""
    static let originChallenge = "Bearer realm=\"streamgate\", error_description=\"the request's Origin is not allowed on this route\""

    /// The `deny` field of every access-log line with `status`, once `count` such lines are in
    /// (the log is flushed once per loop turn: polled, bounded).
    static func denyFields(_ rig: AuthRig, status: Int, count: Int, timeout: Double = 3) -> [String?] {
        let deadline = Date().addingTimeInterval(timeout)
        var lines: [[String: Any]] = []
        repeat {
            lines = rig.gateway.accessLog(minLines: 0).filter { $0["status"] as? Int == status }
            if lines.count >= count { break }
            usleep(10_000)
        } while Date() < deadline
        return lines.map { $0["deny"] as? String }
    }

    @Test func missingScopeIs403InsufficientScope() throws {
        let rig = try AuthRig()
        let weak = randomToken("weak"), strong = randomToken("strong"), none = randomToken("none")
        rig.redis.putSession(weak, scopes: "events:write other")
        rig.redis.putSession(strong, scopes: "other events:read")
        rig.redis.putSession(none)
        for token in [weak, none] {
            let r = try rig.get("/scoped/x", ["Authorization: Bearer \(token)"])
            #expect(r.status == 403)
            #expect(r.header("www-authenticate") == Self.scopeChallenge)
            #expect(r.bodyText == #"{"error":"insufficient_scope","error_description":"the token lacks a scope this route requires"}"#)
            #expect(r.header("cache-control") == "no-store")
            #expect(!r.bodyText.contains(token))
        }
        #expect(rig.upstream.requests.isEmpty)
        #expect(Self.denyFields(rig, status: 403, count: 2) == ["scope", "scope"])
        #expect(try rig.get("/scoped/x", ["Authorization: Bearer \(strong)"]).status == 200)
        #expect(try rig.lastUpstreamRequest().values("X-Auth-Scopes") == ["other events:read"])
    }

    @Test func tenantPathParameterMustMatchSession() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, tenant: "acme")
        for path in ["/v1/tenants/other/events", "/v1/tenants/ACME/events", "/v1/tenants/acme%20/events"] {
            let r = try rig.get(path, ["Authorization: Bearer \(token)"])
            #expect(r.status == 403, "\(path)")
            // Not a scope problem, and said so: no insufficient_scope, the reason in words.
            #expect(r.header("www-authenticate") == Self.tenantChallenge)
            #expect(r.bodyText == #"{"error":"forbidden","error_description":"the token's tenant does not match the route"}"#)
            #expect(!r.bodyText.contains(token))
        }
        #expect(rig.upstream.requests.isEmpty)
        #expect(Self.denyFields(rig, status: 403, count: 3) == ["tenant", "tenant", "tenant"])
        let s = try rig.stream("/v1/tenants/acme/events", ["Authorization: Bearer \(token)"])
        #expect(s.status == 200)
        try s.waitForMoreTicks(1)
        let up = try rig.lastUpstreamRequest()
        #expect(up.target == "/v1/tenants/acme/events")
        #expect(up.values("X-Auth-Tenant-Id") == ["acme"])
    }

    @Test func sessionOriginsDecideOnCORSSessionRoute() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, origins: "https://app.example.com http://localhost:3000")
        // Allowed origins get the exact origin back, credentials allowed, Vary: Origin.
        for origin in ["https://app.example.com", "http://localhost:3000"] {
            let r = try rig.get("/sc/x", ["Authorization: Bearer \(token)", "Origin: \(origin)"])
            #expect(r.status == 200)
            #expect(r.header("access-control-allow-origin") == origin)
            #expect(r.header("access-control-allow-credentials") == "true")
            #expect(r.headerValues("vary").joined(separator: ",").contains("Origin"))
        }
        #expect(rig.upstream.requests.count == 2)
        for origin in ["https://evil.example.com", "http://app.example.com", "https://app.example.com:444", "null"] {
            let r = try rig.get("/sc/x", ["Authorization: Bearer \(token)", "Origin: \(origin)"])
            #expect(r.status == 403, "\(origin)")
            #expect(r.header("www-authenticate") == Self.originChallenge)
            #expect(r.bodyText == #"{"error":"forbidden","error_description":"the request's Origin is not allowed on this route"}"#)
            #expect(r.header("access-control-allow-origin") == nil)
        }
        #expect(rig.upstream.requests.count == 2)
        #expect(Self.denyFields(rig, status: 403, count: 4) == ["origin", "origin", "origin", "origin"])
        // No Origin (not a browser's cross-origin request): allowed, no CORS grant.
        let plain = try rig.get("/sc/x", ["Authorization: Bearer \(token)"])
        #expect(plain.status == 200)
        #expect(plain.header("access-control-allow-origin") == nil)
    }

    @Test func preflightAnswersExactOriginNeverWildcard() throws {
        let rig = try AuthRig()
        let preflight = { (target: String, origin: String, reqHeaders: String) throws -> HTTPTestResponse in
            try rig.get(target, ["Origin: \(origin)", "Access-Control-Request-Method: GET",
                                 "Access-Control-Request-Headers: \(reqHeaders)"], method: "OPTIONS")
        }
        for (target, origin) in [("/lc/events", "http://app.test:8080"), ("/sc/events", "https://anything.example")] {
            let r = try preflight(target, origin, "authorization")
            #expect(r.status == 204, "\(target)")
            #expect(r.header("access-control-allow-origin") == origin)
            #expect(r.header("access-control-allow-origin") != "*")
            #expect(r.header("access-control-allow-credentials") == "true")
            #expect(r.headerValues("vary").joined(separator: ",").contains("Origin"))
            let allowed = (r.header("access-control-allow-headers") ?? "").lowercased()
            #expect(allowed.contains("authorization") && allowed.contains("last-event-id"))
            #expect((r.header("access-control-allow-methods") ?? "").contains("GET"))
            #expect(r.header("www-authenticate") == nil, "a preflight carries no credentials and needs none")
            // Mixed-case and several requested headers pass too.
            #expect(try preflight(target, origin, "Last-Event-ID, Authorization").status == 204)
        }
        // A disallowed origin on a listed route: 403, no grant.
        let refused = try preflight("/lc/events", "http://evil.test:8080", "authorization")
        #expect(refused.status == 403)
        #expect(refused.header("access-control-allow-origin") == nil)
        #expect(refused.headerValues("vary").joined(separator: ",").contains("Origin"))
        // An unlisted request header is refused too.
        #expect(try preflight("/lc/events", "http://app.test:8080", "x-custom").status == 403)
        #expect(rig.upstream.requests.isEmpty, "preflights are answered by the gateway")
        #expect(rig.hgetallCalls == 0)
    }

    @Test func listedOriginsCheckActualRequests() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, origins: "http://evil.test:8080")
        let ok = try rig.get("/lc/x", ["Authorization: Bearer \(token)", "Origin: http://app.test:8080"])
        #expect(ok.status == 200)
        #expect(ok.header("access-control-allow-origin") == "http://app.test:8080")
        // The route's list decides, not the session's.
        let bad = try rig.get("/lc/x", ["Authorization: Bearer \(token)", "Origin: http://evil.test:8080"])
        #expect(bad.status == 403)
        #expect(bad.header("access-control-allow-origin") == nil)
        #expect(rig.upstream.requests.count == 1)
    }

    /// The CORS headers differ by `Origin`, so every response of a CORS route must say
    /// `Vary: Origin`, including one to a request without `Origin`: otherwise a shared cache
    /// may serve that grant-less copy to a browser (Fetch standard, "CORS protocol and HTTP
    /// caches"; CORSPolicy.responseHeaders documents "Vary: Origin always").
    @Test
    func corsRouteResponsesVaryOnOriginEvenWithoutOrigin() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, origins: "https://app.example.com")
        for path in ["/sc/x", "/lc/x"] {
            let r = try rig.get(path, ["Authorization: Bearer \(token)"])
            #expect(r.status == 200)
            #expect(r.headerValues("vary").joined(separator: ",").contains("Origin"), "\(path): Vary \(r.headerValues("vary"))")
        }
    }

    /// Adding `Origin` to `Vary` must keep what the upstream varies on.
    @Test
    func corsVaryKeepsTheUpstreamsVary() throws {
        let rig = try AuthRig(upstreamHandler: { _ in
            .full(status: 200, headers: [("Vary", "Accept-Encoding"), ("Content-Type", "text/plain")], body: "v")
        })
        let token = randomToken()
        rig.redis.putSession(token, origins: "https://app.example.com")
        let r = try rig.get("/sc/x", ["Authorization: Bearer \(token)", "Origin: https://app.example.com"])
        #expect(r.status == 200)
        #expect(r.header("access-control-allow-origin") == "https://app.example.com")
        let vary = r.headerValues("vary").joined(separator: ",")
        #expect(vary.contains("Origin"))
        #expect(vary.contains("Accept-Encoding"), "Vary: \(vary)")
    }
}
