import Foundation
import Testing

/// Where tokens come from and how bad ones are refused, against a real redis-server.
@Suite struct AuthCredentialTests {
    @Test func bearerSchemeIsCaseInsensitiveAndAuthenticates() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "alice", tenant: "acme", scopes: "a b")
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let r = try rig.get("/api/x", ["Authorization: \(scheme) \(token)"])
            #expect(r.status == 200, "scheme \(scheme)")
            let up = try rig.lastUpstreamRequest()
            #expect(up.values("X-Auth-User-Id") == ["alice"])
            #expect(up.values("X-Auth-Tenant-Id") == ["acme"])
            #expect(up.values("X-Auth-Scopes") == ["a b"])
            #expect(up.header("authorization") == nil, "Authorization is not forwarded by default")
            #expect(!up.rawHead.contains(token))
        }
        #expect(rig.upstream.requests.count == 4)
    }

    @Test func apiKeyHeaderAuthenticatesAndIsNotForwarded() throws {
        let rig = try AuthRig()
        let key = randomToken("key")
        rig.redis.putSession(key, user: "svc", kind: "api_key")
        let r = try rig.get("/api/x", ["X-Api-Key: \(key)"])
        #expect(r.status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.values("X-Auth-User-Id") == ["svc"])
        #expect(up.header("x-api-key") == nil)
        #expect(!up.rawHead.contains(key))
    }

    @Test func queryTokenOnQueryRouteIsStrippedAndResponseNotStored() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "qu")
        let r = try rig.get("/q/feed?b=%2F%7e&access_token=\(token)&c=&d=x+y&b=2")
        #expect(r.status == 200)
        #expect(r.header("cache-control")?.contains("no-store") == true, "a token in the URL: RFC 6750 §2.3")
        let up = try rig.lastUpstreamRequest()
        #expect(up.target == "/q/feed?b=%2F%7e&c=&d=x+y&b=2", "only the token parameter goes; the rest byte-identical")
        #expect(up.values("X-Auth-User-Id") == ["qu"])
        #expect(!up.rawHead.contains(token))
        // Only parameter: the `?` goes too.
        #expect(try rig.get("/q/feed?access_token=\(token)").status == 200)
        #expect(try rig.lastUpstreamRequest().target == "/q/feed")
        // The token never reaches the logs.
        _ = rig.gateway.accessLog(minLines: 2)
        #expect(!rig.gateway.accessLogText.contains(token))
        #expect(!rig.gateway.errorLogText.contains(token))
    }

    @Test func queryTokenIgnoredOnRoutesWithoutQueryToken() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token)
        let r = try rig.get("/api/feed?access_token=\(token)")
        #expect(r.status == 401)
        #expect(r.header("www-authenticate") == "Bearer realm=\"streamgate\"", "no credentials were accepted: no error code")
        #expect(rig.upstream.requests.isEmpty)
        #expect(rig.hgetallCalls == 0)
    }

    @Test func headerTokenBeatsQueryToken() throws {
        let rig = try AuthRig()
        let good = randomToken("good"), other = randomToken("other")
        rig.redis.putSession(good, user: "header-user")
        rig.redis.putSession(other, user: "query-user")
        let r = try rig.get("/q/x?access_token=\(other)&k=v", ["Authorization: Bearer \(good)"])
        #expect(r.status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.values("X-Auth-User-Id") == ["header-user"])
        #expect(up.target == "/q/x?k=v", "the ignored query token is still stripped")
        #expect(!up.rawHead.contains(other))
        // An unknown header token is not rescued by a valid query token.
        let unknown = randomToken("unknown")
        let r2 = try rig.get("/q/x?access_token=\(good)", ["Authorization: Bearer \(unknown)"])
        #expect(r2.status == 401)
        #expect(rig.upstream.requests.count == 1)
    }

    @Test func apiKeyFromQueryIsRefused() throws {
        let rig = try AuthRig()
        let key = randomToken("key")
        rig.redis.putSession(key, user: "svc", kind: "api_key")
        let r = try rig.get("/q/x?access_token=\(key)")
        #expect(r.status == 401)
        #expect(r.header("www-authenticate")?.contains("error=\"invalid_token\"") == true)
        #expect(!r.bodyText.contains(key))
        #expect(rig.upstream.requests.isEmpty)
        // The same key from a header is fine.
        #expect(try rig.get("/q/x", ["X-Api-Key: \(key)"]).status == 200)
    }

    @Test func unknownAndExpiredTokensGetInvalidTokenChallenge() throws {
        let rig = try AuthRig()
        let unknown = randomToken("unknown")
        let pastUnix = randomToken("past"), pastRFC = randomToken("rfc")
        let now = Int(Date().timeIntervalSince1970)
        rig.redis.putSession(pastUnix, expiresAt: String(now - 10))
        rig.redis.putSession(pastRFC, expiresAt: "2001-02-03T04:05:06Z")
        for (token, why) in [(unknown, "the access token is unknown or revoked"), (pastUnix, "the access token has expired"),
                             (pastRFC, "the access token has expired")] {
            for (i, header) in ["Authorization: Bearer \(token)", "X-Api-Key: \(token)"].enumerated() {
                let r = try rig.get("/api/x", [header])
                #expect(r.status == 401)
                #expect(r.header("www-authenticate")?.hasPrefix("Bearer realm=\"streamgate\", error=\"invalid_token\", error_description=\"") == true)
                // The first answer comes from the record itself. An expired record is then cached
                // negatively, like an unknown token, so a repeat within negative_ttl says "unknown".
                if i == 0 {
                    #expect(r.header("www-authenticate") == "Bearer realm=\"streamgate\", error=\"invalid_token\", error_description=\"\(why)\"")
                    #expect(r.bodyText == "{\"error\":\"invalid_token\",\"error_description\":\"\(why)\"}")
                }
                #expect(r.header("cache-control") == "no-store")
                #expect(!r.bodyText.contains(token))
                #expect(!r.headers.contains { $0.1.contains(token) })
            }
        }
        // Query tokens too, and the answer is no-store.
        let rq = try rig.get("/q/x?access_token=\(pastUnix)")
        #expect(rq.status == 401 && rq.header("cache-control") == "no-store")
        #expect(rig.upstream.requests.isEmpty)
        _ = rig.gateway.accessLog(minLines: 7)
        for token in [unknown, pastUnix, pastRFC] {
            #expect(!rig.gateway.accessLogText.contains(token))
            #expect(!rig.gateway.errorLogText.contains(token))
        }
        // A future expiry in RFC 3339 passes.
        let future = randomToken("future")
        rig.redis.putSession(future, expiresAt: "2999-01-01T00:00:00Z")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(future)"]).status == 200)
        #expect(try rig.lastUpstreamRequest().header("X-Auth-Expires-At") == "32472144000")
    }

    @Test func keyTTLBoundsACachedSession() throws {
        // cache_ttl is long: only the key's own TTL can end this session.
        let rig = try AuthRig(sessions: "cache_ttl = \"30s\"")
        let token = randomToken()
        rig.redis.putSession(token, pexpireMilliseconds: 1500)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        let start = Date()
        var status = 200
        while status == 200 && Date().timeIntervalSince(start) < 4 {
            status = try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status
            if status == 200 { usleep(50_000) }
        }
        #expect(status == 401, "a session whose key expired is refused although cache_ttl is 30 s")
        #expect(Date().timeIntervalSince(start) < 3, "the key's TTL (1.5 s) bounds the cached session")
    }

    @Test func missingTokenGets401WithoutErrorCode() throws {
        let rig = try AuthRig()
        for headers in [[], ["Authorization: Basic dXNlcjpwYXNz"]] {
            let r = try rig.get("/api/x", headers)
            #expect(r.status == 401)
            #expect(r.header("www-authenticate") == "Bearer realm=\"streamgate\"")
            #expect(r.header("cache-control") == "no-store")
        }
        #expect(rig.upstream.requests.isEmpty)
        #expect(rig.hgetallCalls == 0)
    }

    @Test func malformedTokensGet400WithoutAnyLookup() throws {
        let rig = try AuthRig()
        let cases: [(String, [String])] = [
            ("/api/x", ["Authorization: Bearer abc def"]),
            ("/api/x", ["Authorization: Bearer ab\"c"]),
            ("/api/x", ["Authorization: Bearer ab,c"]),
            ("/api/x", ["Authorization: Bearer =abc"]),
            ("/api/x", ["Authorization: Bearer"]),
            ("/api/x", ["X-Api-Key: bad!key"]),
            ("/api/x", ["Authorization: Bearer aaa", "Authorization: Bearer aaa"]),
            ("/api/x", ["Authorization: Bearer aaa", "X-Api-Key: bbb"]),
            ("/q/x?access_token=a%20b", []),
            ("/q/x?access_token=a%zz", []),
            ("/q/x?access_token=a&access_token=a", []),
            ("/api/x", ["Authorization: Bearer " + String(repeating: "a", count: 5000)]),
        ]
        for (target, headers) in cases {
            let r = try rig.get(target, headers)
            #expect(r.status == 400, "\(target) \(headers.map { $0.prefix(40) })")
            #expect(r.header("www-authenticate")?.hasPrefix("Bearer realm=\"streamgate\", error=\"invalid_request\", error_description=\"") == true)
            #expect(r.bodyText.hasPrefix("{\"error\":\"invalid_request\",\"error_description\":\""))
            #expect(r.header("cache-control") == "no-store")
        }
        #expect(rig.hgetallCalls == 0, "malformed tokens are never looked up")
        #expect(rig.redis.commandCalls("pttl") == 0)
        #expect(rig.upstream.requests.isEmpty)
    }

    @Test func percentEncodedQueryTokenIsTheSameToken() throws {
        let rig = try AuthRig()
        let token = "ab+c/d.e_f~g-\(UUID().uuidString.prefix(8))=="
        rig.redis.putSession(token, user: "enc")
        for q in [token, token.replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
                    .replacingOccurrences(of: "=", with: "%3D")] {
            let r = try rig.get("/q/x?access_token=\(q)&keep=%2B")
            #expect(r.status == 200, "\(q)")
            let up = try rig.lastUpstreamRequest()
            #expect(up.values("X-Auth-User-Id") == ["enc"])
            #expect(up.target == "/q/x?keep=%2B")
        }
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(rig.hgetallCalls == 1, "one digest whatever the encoding")
    }

    @Test func recordsWithControlCharactersOrBadKindAreRefused() throws {
        let rig = try AuthRig()
        let injected = randomToken("inj"), badKind = randomToken("kind"), noUser = randomToken("nouser")
        rig.redis.putSession(injected, user: "evil\r\nX-Injected: 1")
        rig.redis.putSession(badKind, kind: "admin")
        rig.redis.cli(["HSET", sessionKey(noUser), "tenant_id", "t"])
        for token in [injected, badKind, noUser] {
            let r = try rig.get("/api/x", ["Authorization: Bearer \(token)"])
            #expect(r.status == 401, "an invalid record is no session")
            #expect(r.header("www-authenticate")?.contains("invalid_token") == true)
        }
        #expect(rig.upstream.requests.isEmpty)
    }

    @Test func keepAliveAndPipeliningSurviveLookupsAndDenials() throws {
        let rig = try AuthRig()
        let a = randomToken("a"), b = randomToken("b")
        rig.redis.putSession(a, user: "ua")
        rig.redis.putSession(b, user: "ub")
        let c = try rig.gateway.client()
        // Three requests in one write: two uncached lookups and an unknown token between them.
        c.send(AuthRig.requestText(target: "/api/1", headers: ["Authorization: Bearer \(a)"])
               + AuthRig.requestText(target: "/api/2", headers: ["Authorization: Bearer \(randomToken("unknown"))"])
               + AuthRig.requestText(target: "/api/3", headers: ["Authorization: Bearer \(b)"])
               + AuthRig.requestText(target: "/api/4", headers: []))
        let statuses = try (0..<4).map { _ in try c.readResponse().status }
        #expect(statuses == [200, 401, 200, 401])
        let ups = rig.upstream.requests
        #expect(ups.map(\.target) == ["/api/1", "/api/3"])
        #expect(ups.map { $0.header("X-Auth-User-Id") ?? "-" } == ["ua", "ub"])
        // The connection is still usable after the denials.
        c.send(AuthRig.requestText(target: "/api/5", headers: ["X-Api-Key: \(a)"]))
        #expect(try c.readResponse().status == 200)
    }

    @Test func jsonRecordsWithRawTokenKeyAndCustomFields() throws {
        let rig = try AuthRig(sessions: """
            key = "tok:{token}"
            format = "json"
            [sessions.fields]
            user = "uid"
            scopes = "perms"
            """)
        let token = randomToken()
        rig.redis.cli(["SET", "tok:\(token)", #"{"uid":"json-user","tenant_id":"jt","perms":["a","b"],"expires_at":"2999-01-01T00:00:00Z"}"#])
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.values("X-Auth-User-Id") == ["json-user"])
        #expect(up.values("X-Auth-Tenant-Id") == ["jt"])
        #expect(up.values("X-Auth-Scopes") == ["a b"])
        #expect(rig.redis.commandCalls("get") == 1)
        #expect(rig.hgetallCalls == 0)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(randomToken())"]).status == 401)
    }

    /// A record over 64 KiB is refused unparsed, like any invalid record: 401, cached
    /// negatively, one log line naming neither the token nor the record.
    @Test func oversizedSessionRecordsAreRefused() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "big")
        rig.redis.cli(["HSET", sessionKey(token), "padding", String(repeating: "x", count: 70_000)])
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 401)
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 401)
        #expect(rig.hgetallCalls == 1, "not looked up again within negative_ttl")
        #expect(rig.upstream.requests.isEmpty)
        #expect(rig.gateway.errorLogText.contains("exceeds the 65536-byte limit"))
        #expect(!rig.gateway.errorLogText.contains(token))
        // A large record under the limit is still a session.
        let fits = randomToken()
        rig.redis.putSession(fits, user: "fits")
        rig.redis.cli(["HSET", sessionKey(fits), "padding", String(repeating: "x", count: 60_000)])
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(fits)"]).status == 200)

        let json = try AuthRig(sessions: "key = \"tok:{token}\"\nformat = \"json\"")
        let jsonToken = randomToken()
        let pad = String(repeating: "y", count: 70_000)
        json.redis.cli(["SET", "tok:\(jsonToken)", #"{"user_id":"u","tenant_id":"t","pad":""# + pad + #""}"#])
        #expect(try json.get("/api/x", ["Authorization: Bearer \(jsonToken)"]).status == 401)
        #expect(json.upstream.requests.isEmpty)
    }
}
