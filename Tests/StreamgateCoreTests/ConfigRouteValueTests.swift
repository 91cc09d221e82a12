import Testing
@testable import StreamgateCore

/// The decoder's `Route` is the value the request path uses (there is no runtime copy), so
/// "a setting reaches the data path" means "a setting changes the decoded route". These tests
/// check that for every route key the decoder accepts, and for the session field names.
@Suite struct ConfigRouteValueTests {
    /// A route with every key at its default, under a config with a session store (so the
    /// auth keys are allowed) and two upstreams.
    static let baseRoute: [(String, String)] = [("name", "\"r\""), ("path", "\"/t/{tenant}\""), ("upstream", "\"u\"")]

    static func config(route: [(String, String)]) -> String {
        """
        [[listeners]]
        address = "127.0.0.1:8080"
        [redis]
        url = "redis://127.0.0.1:6379/0"
        [upstreams.u]
        targets = ["127.0.0.1:9000"]
        [upstreams.v]
        targets = ["127.0.0.1:9001"]
        connect_timeout = "3s"
        [[routes]]

        """ + route.map { "\($0.0) = \($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// `overrides` on top of `route`: a nil value removes the key.
    static func applying(_ overrides: [(String, String?)], to route: [(String, String)]) -> [(String, String)] {
        var result = route
        for (key, value) in overrides {
            result.removeAll { $0.0 == key }
            if let value { result.append((key, value)) }
        }
        return result
    }

    /// Per route key: the setup both routes share, and the change that sets the key to a
    /// value other than its default.
    static let cases: [(key: String, setup: [(String, String?)], change: [(String, String?)])] = [
        ("name", [], [("name", "\"other\"")]),
        ("host", [], [("host", "\"api.example.com\"")]),
        ("path", [], [("path", "\"/t/{tenant}/x\"")]),
        ("path_prefix", [], [("path", nil), ("path_prefix", "\"/t\"")]),
        ("methods", [], [("methods", "[\"GET\"]")]),
        ("upstream", [], [("upstream", "\"v\"")]),
        ("strip_prefix", [("path", nil), ("path_prefix", "\"/p/\"")], [("strip_prefix", "true")]),
        ("rewrite_prefix", [("path", nil), ("path_prefix", "\"/p/\"")], [("rewrite_prefix", "\"/q/\"")]),
        ("connect_timeout", [], [("connect_timeout", "\"7s\"")]),
        ("read_timeout", [], [("read_timeout", "\"8s\"")]),
        ("sse", [], [("sse", "true")]),
        ("auth", [], [("auth", "\"optional\"")]),
        ("query_token", [], [("query_token", "true")]),
        ("tenant_param", [], [("tenant_param", "\"tenant\"")]),
        ("scopes", [], [("scopes", "[\"s\"]")]),
        ("cors_origins", [], [("cors_origins", "[\"https://a.example\"]")]),
        ("forward_authorization", [], [("forward_authorization", "true")]),
        ("last_event_id_param", [], [("last_event_id_param", "\"lid\"")]),
        ("session_end_event", [], [("session_end_event", "\"bye\"")]),
        ("raw_path", [], [("raw_path", "true")]),
        ("max_streams", [], [("max_streams", "5")]),
        ("max_streams_per_user", [], [("max_streams_per_user", "6")]),
        ("max_streams_per_tenant", [], [("max_streams_per_tenant", "7")]),
        ("allow_underscore_headers", [], [("allow_underscore_headers", "true")]),
        ("keepalive", [], [("keepalive", "\"0s\"")]),
        ("upstream_idle_timeout", [], [("upstream_idle_timeout", "\"1m\"")]),
        ("max_stream_duration", [], [("max_stream_duration", "\"1h\"")]),
        ("retry", [], [("retry", "\"2s\"")]),
        ("max_client_buffer", [], [("max_client_buffer", "\"2MiB\"")]),
    ]

    @Test func everyRouteKeyHasACase() {
        #expect(Set(Self.cases.map(\.key)) == Set(ConfigDecoder.routeKeys))
        #expect(Self.cases.count == ConfigDecoder.routeKeys.count)
    }

    @Test(arguments: ConfigRouteValueTests.cases.map(\.key))
    func everyRouteKeyChangesTheDecodedRoute(key: String) throws {
        let c = try #require(Self.cases.first { $0.key == key })
        let before = Self.applying(c.setup, to: Self.baseRoute)
        let after = Self.applying(c.change, to: before)
        let a = try #require(validConfig(Self.config(route: before))?.routes.first)
        let b = try #require(validConfig(Self.config(route: after))?.routes.first)
        #expect(a != b, "\(key) is accepted but does not reach the route")
    }

    /// What each key sets, read where the request path reads it.
    @Test func routeKeysLandWhereTheRequestPathReadsThem() throws {
        let route = Self.applying([
            ("host", "\"api.example.com\""), ("methods", "[\"GET\", \"POST\"]"), ("upstream", "\"v\""), ("read_timeout", "\"8s\""),
            ("sse", "true"), ("auth", "\"optional\""), ("query_token", "true"), ("tenant_param", "\"tenant\""), ("scopes", "[\"s\"]"),
            ("cors_origins", "\"session\""), ("forward_authorization", "true"), ("last_event_id_param", "\"lid\""),
            ("session_end_event", "\"bye\""), ("raw_path", "true"), ("max_streams", "5"), ("max_streams_per_user", "6"),
            ("max_streams_per_tenant", "7"), ("allow_underscore_headers", "true"), ("keepalive", "\"0s\""),
            ("upstream_idle_timeout", "\"1m\""), ("max_stream_duration", "\"1h\""), ("retry", "\"2s\""), ("max_client_buffer", "\"2MiB\""),
        ], to: Self.baseRoute)
        let config = try #require(validConfig(Self.config(route: route)))
        let r = try #require(config.routes.first)
        #expect(r.host == .exact("api.example.com"))
        #expect(r.allows(method: "HEAD") && r.allows(method: "POST") && !r.allows(method: "DELETE"))
        #expect(r.upstream == "v" && r.upstreamIndex == 1 && config.upstreams[r.upstreamIndex].name == "v")
        #expect(r.connectTimeout == .seconds(3), "inherited from the upstream")
        #expect(r.readTimeout == .seconds(8))
        #expect(r.forceStream)
        #expect(r.auth.policy == RouteAuthPolicy(mode: .optional, allowQueryToken: true, requiredScopes: ["s"],
                                                 tenantParameter: "tenant", corsOrigins: .session))
        #expect(r.auth.cors == CORSPolicy(origins: .session, allowedMethods: ["GET", "POST"]))
        #expect(r.auth.forwardAuthorization)
        #expect(r.auth.lastEventIDParam == "lid")
        #expect(r.auth.sessionEndEvent == "bye")
        #expect(!r.auth.refusesUnderscoreHeaders)
        #expect(r.rawPath)
        #expect(r.upstreamPath("/t/a", rawPath: "/t/%61") == "/t/%61")
        #expect(r.streamLimits == StreamLimits(perRoute: 5, perUser: 6, perTenant: 7))
        #expect(r.stream == StreamSettings(keepalive: nil, upstreamIdleTimeout: .seconds(60), maxStreamDuration: .seconds(3600),
                                           retry: .seconds(2), maxClientBuffer: 2 << 20))

        // The router hands back this very value.
        guard case .matched(let matched, let params) = Router(routes: config.routes).match(method: "GET", host: "api.example.com", path: "/t/acme") else {
            Issue.record("no match"); return
        }
        #expect(matched === r)
        #expect(params.map(\.value) == ["acme"])
    }

    /// `[sessions.fields]` renames reach the mapping the session store decodes records with.
    @Test func sessionFieldRenamesReachTheMapping() throws {
        let config = try #require(validConfig(minimalConfig + """
        [redis]
        url = "redis://127.0.0.1:6379/0"
        [sessions.fields]
        user = "uid"
        tenant = "org"
        expires_at = "exp"
        kind = "type"
        scopes = "perms"
        origins = "web_origins"
        """))
        #expect(config.sessions.fields == SessionFieldMapping(user: "uid", tenant: "org", expiresAt: "exp", kind: "type",
                                                             scopes: "perms", origins: "web_origins"))
        let record = try SessionRecord.decode(flatHash: ["uid", "u1", "org", "t1", "perms", "a b", "type", "session"],
                                              mapping: config.sessions.fields)
        #expect(record.userID == "u1" && record.tenantID == "t1" && record.scopes == ["a", "b"])
    }

    /// The token settings of `[auth]` are the extractor itself, and `[identity]`'s names the
    /// identity headers.
    @Test func authAndIdentityKeysAreTheRuntimeValues() throws {
        let config = try #require(validConfig(minimalConfig + """
        [auth]
        api_key_header = "X-Key"
        query_param = "tok"
        max_token_length = 100
        [identity]
        user_header = "X-U"
        tenant_header = "X-T"
        scopes_header = "X-S"
        signature_header = "X-Sig"
        """))
        #expect(config.auth.tokens == TokenExtractor(apiKeyHeader: "X-Key", queryParameter: "tok", maxTokenLength: 100))
        #expect(config.identity.headers == IdentityHeaders(userHeader: "X-U", tenantHeader: "X-T", scopesHeader: "X-S", signatureHeader: "X-Sig"))
    }
}
