import Testing
@testable import StreamgateCore

@Suite struct ConfigLoaderTests {
    @Test func defaultsAreApplied() throws {
        let config = try #require(validConfig(minimalConfig))
        #expect(config.gateway.workers == .auto)
        #expect(config.gateway.drainTimeout == .seconds(30))
        #expect(config.gateway.accessLog == .stdout)
        #expect(config.gateway.logLevel == .info)
        #expect(config.admin == nil)
        #expect(config.limits.maxHeaderBytes == 32 * 1024)
        #expect(config.limits.maxHeaders == 100)
        #expect(config.limits.maxBodyBytes == 10 * 1024 * 1024)
        #expect(config.limits.maxConnections == 10_000)
        #expect(config.limits.keepaliveTimeout == .seconds(75))
        #expect(config.limits.headerTimeout == .seconds(10))
        #expect(config.limits.sendTimeout == .seconds(60))
        #expect(config.limits.clientBuffer == 64 * 1024)
        #expect(config.sse == StreamSettings(keepalive: .seconds(15), upstreamIdleTimeout: .seconds(300), maxStreamDuration: nil, retry: nil, maxClientBuffer: 1 << 20))
        let upstream = try #require(config.upstream(named: "demo"))
        #expect(upstream.connectTimeout == .seconds(2))
        #expect(upstream.readTimeout == .seconds(60))
        #expect(upstream.poolSize == 32)
        #expect(upstream.idleTimeout == .seconds(60))
        #expect(config.redis == nil)
        #expect(config.sessions == SessionsConfig(
            key: "session:{sha256}", format: .hash, cacheTTL: .seconds(30), negativeTTL: .seconds(5), cacheSize: 100_000,
            revocationChannel: "streamgate:revoked", recheckInterval: .seconds(60)))
        #expect(config.sessions.fields == SessionFieldMapping(user: "user_id", tenant: "tenant_id", expiresAt: "expires_at", kind: "kind", scopes: "scopes", origins: "allowed_origins"))
        #expect(config.auth == AuthConfig(apiKeyHeader: "X-Api-Key", queryParam: "access_token", maxTokenLength: 4096))
        #expect(config.identity == IdentityConfig(userHeader: "X-Auth-User-Id", tenantHeader: "X-Auth-Tenant-Id", scopesHeader: "X-Auth-Scopes", signingSecret: nil, signatureHeader: "X-Auth-Signature"))

        let route = config.routes[0]
        #expect(route.name == "plain")
        #expect(route.host == nil)
        #expect(route.path == .exact("/plain"))
        #expect(route.methods == nil)
        #expect(route.rewrite == .none)
        #expect(route.auth == RouteAuth(policy: RouteAuthPolicy(mode: .none)))
        #expect(!route.forceStream && !route.rawPath)
        #expect(route.streamLimits == StreamLimits())
        #expect(route.stream == config.sse)
    }

    @Test func everyKeyIsRead() throws {
        let config = try #require(validConfig("""
        [gateway]
        workers = 3
        drain_timeout = "1m30s"
        access_log = "/var/log/streamgate/access.log"
        log_level = "debug"

        [[listeners]]
        address = "[::1]:8443"
        tls_cert = "/c.pem"
        tls_key = "/k.pem"

        [[listeners]]
        address = "*:8080"

        [admin]
        address = "127.0.0.1:0"

        [limits]
        max_header_bytes = "16KiB"
        max_headers = 50
        max_body_bytes = 0
        max_connections = 20
        keepalive_timeout = "5s"
        header_timeout = "2s"
        send_timeout = "3s"
        client_buffer = 4096

        [sse]
        keepalive = "0s"
        upstream_idle_timeout = "1h"
        max_stream_duration = "1d"
        retry = "2500ms"
        max_client_buffer = "2MB"

        [upstreams.events]
        targets = ["10.0.0.1:9000", "events.internal:9001"]
        connect_timeout = "500ms"
        read_timeout = "5s"
        pool_size = 0
        idle_timeout = "10s"

        [redis]
        url = "redis://app:pw@redis:6380/2"
        timeout = "100ms"
        connect_timeout = "3s"

        [sessions]
        key = "s:{token}"
        format = "json"
        cache_ttl = "0s"
        negative_ttl = "1s"
        cache_size = 10
        revocation_channel = "rev"
        recheck_interval = "5m"

        [sessions.fields]
        user = "u"
        tenant = "t"
        expires_at = "exp"
        kind = "k"
        scopes = "sc"
        origins = "o"

        [auth]
        api_key_header = "X-Key"
        query_param = "token"
        max_token_length = 512

        [identity]
        user_header = "X-U"
        tenant_header = "X-T"
        scopes_header = "X-S"
        signing_secret = "0123456789abcdef0123456789abcdef"
        signature_header = "X-Sig"

        [[routes]]
        name = "tenant-events"
        host = "*.Example.com"
        path = "/v1/tenants/{tenant}/events"
        methods = ["GET", "POST"]
        upstream = "events"
        connect_timeout = "1s"
        read_timeout = "9s"
        sse = true
        keepalive = "20s"
        upstream_idle_timeout = "0s"
        max_stream_duration = "1h"
        retry = "1s"
        max_client_buffer = "512KiB"
        auth = "optional"
        query_token = true
        tenant_param = "tenant"
        scopes = ["events:read", "events:list"]
        cors_origins = ["https://App.example.com", "http://localhost:3000"]
        forward_authorization = true
        last_event_id_param = "lastEventId"
        session_end_event = "session-expired"

        [[routes]]
        name = "api"
        path_prefix = "/api/"
        upstream = "events"
        rewrite_prefix = "/internal/"
        cors_origins = "session"

        [[routes]]
        name = "strip"
        path_prefix = "/s"
        upstream = "events"
        strip_prefix = true
        auth = "none"
        """))
        #expect(config.gateway == GatewaySettings(workers: .count(3), drainTimeout: .seconds(90), accessLog: .file(path: "/var/log/streamgate/access.log"), logLevel: .debug))
        #expect(config.listeners == [
            ListenerConfig(address: ListenAddress(host: "::1", port: 8443, family: .ipv6), certificates: [TLSFiles(certificatePath: "/c.pem", privateKeyPath: "/k.pem", line: 9)]),
            ListenerConfig(address: ListenAddress(host: "0.0.0.0", port: 8080, family: .ipv4)),
        ])
        #expect(config.admin?.address.port == 0)
        #expect(config.limits == LimitsConfig(maxHeaderBytes: 16384, maxHeaders: 50, maxBodyBytes: 0, maxConnections: 20, keepaliveTimeout: .seconds(5), headerTimeout: .seconds(2), sendTimeout: .seconds(3), clientBuffer: 4096))
        #expect(config.sse == StreamSettings(keepalive: nil, upstreamIdleTimeout: .seconds(3600), maxStreamDuration: .seconds(86_400), retry: .milliseconds(2500), maxClientBuffer: 2_000_000))
        #expect(config.upstreams == [UpstreamConfig(
            name: "events", targets: [UpstreamTarget(host: "10.0.0.1", port: 9000), UpstreamTarget(host: "events.internal", port: 9001)],
            connectTimeout: .milliseconds(500), readTimeout: .seconds(5), poolSize: 0, idleTimeout: .seconds(10))])
        #expect(config.redis == RedisConfig(host: "redis", port: 6380, user: "app", password: "pw", database: 2, timeout: .milliseconds(100), connectTimeout: .seconds(3)))
        #expect(config.sessions == SessionsConfig(key: "s:{token}", format: .json, cacheTTL: .zero, negativeTTL: .seconds(1), cacheSize: 10, revocationChannel: "rev", recheckInterval: .seconds(300), fields: SessionFieldMapping(user: "u", tenant: "t", expiresAt: "exp", kind: "k", scopes: "sc", origins: "o")))
        #expect(config.auth == AuthConfig(apiKeyHeader: "X-Key", queryParam: "token", maxTokenLength: 512))
        #expect(config.identity == IdentityConfig(userHeader: "X-U", tenantHeader: "X-T", scopesHeader: "X-S", signingSecret: "0123456789abcdef0123456789abcdef", signatureHeader: "X-Sig"))

        let r = config.routes[0]
        #expect(r.host == .wildcard(suffix: ".example.com"))
        #expect(r.path == .pattern(try PathPattern.parse("/v1/tenants/{tenant}/events").get()))
        #expect(r.methods == ["GET", "POST"])
        #expect(r.connectTimeout == .seconds(1) && r.readTimeout == .seconds(9))
        #expect(r.forceStream)
        #expect(r.stream == StreamSettings(keepalive: .seconds(20), upstreamIdleTimeout: nil, maxStreamDuration: .seconds(3600), retry: .seconds(1), maxClientBuffer: 512 * 1024))
        let origins = CORSOrigins.list([WebOrigin("https://app.example.com")!, WebOrigin("http://localhost:3000")!])
        #expect(r.auth.policy == RouteAuthPolicy(mode: .optional, allowQueryToken: true, requiredScopes: ["events:read", "events:list"],
                                                 tenantParameter: "tenant", corsOrigins: origins))
        #expect(r.auth.cors == CORSPolicy(origins: origins, allowedMethods: ["GET", "POST"], apiKeyHeader: "X-Key"))
        #expect(r.auth.forwardAuthorization)
        #expect(r.auth.lastEventIDParam == "lastEventId")
        #expect(r.auth.sessionEndEvent == "session-expired")

        // Inherited: upstream timeouts, [sse] defaults, auth "required" because [redis] exists.
        let api = config.routes[1]
        #expect(api.connectTimeout == .milliseconds(500) && api.readTimeout == .seconds(5))
        #expect(api.stream == config.sse)
        #expect(api.auth.mode == .required)
        #expect(api.rewrite == .replacePrefix("/internal/"))
        #expect(api.auth.policy.corsOrigins == .session)
        #expect(api.auth.cors == CORSPolicy(origins: .session, allowedMethods: ["GET"], apiKeyHeader: "X-Key"))
        #expect(config.routes[2].rewrite == .stripPrefix)
        #expect(config.routes[2].auth.mode == .none)
        // Each route knows its place in the table and its upstream's.
        #expect(config.routes.map(\.index) == [0, 1, 2])
        #expect(config.routes.map(\.upstreamIndex) == [0, 0, 0])
    }

    @Test func environmentVariablesAreSubstituted() throws {
        let config = try #require(validConfig("""
        [[listeners]]
        address = "${BIND}"
        [upstreams.demo]
        targets = ["${UP}:9000"]
        [redis]
        url = "redis://:${REDIS_PW}@127.0.0.1:6379/0"
        [[routes]]
        name = "cost-$${not_a_var}"
        path = "/plain"
        upstream = "demo"
        """, env: ["BIND": "127.0.0.1:8081", "UP": "events.internal", "REDIS_PW": "hunter2"]))
        #expect(config.listeners[0].address.port == 8081)
        #expect(config.upstreams[0].targets == [UpstreamTarget(host: "events.internal", port: 9000)])
        #expect(config.redis?.password == "hunter2")
        #expect(config.routes[0].name == "cost-${not_a_var}")
    }

    @Test func workersAcceptsAutoOrACount() throws {
        #expect(try #require(validConfig("[gateway]\nworkers = \"${W}\"\n" + minimalConfig, env: ["W": "auto"])).gateway.workers == .auto)
        #expect(configErrors("[gateway]\nworkers = \"many\"\n" + minimalConfig) == [
            "t.toml:2:11: invalid value \"many\" for 'workers': expected \"auto\" or an integer from 1 to 1024",
        ])
        #expect(configErrors("[gateway]\nworkers = 2000\n" + minimalConfig) == ["t.toml:2:11: 'workers' must be from 1 to 1024, found 2000"])
    }

    @Test func unsetVariablesAreErrorsAtTheValue() {
        let found = configErrors("""
        [[listeners]]
        address = "${BIND}"
        [upstreams.demo]
        targets = ["127.0.0.1:${PORT}"]
        [[routes]]
        name = "a"
        path = "/a"
        upstream = "demo"
        """)
        #expect(found == [
            "t.toml:2:11: environment variable 'BIND' is not set",
            "t.toml:4:12: environment variable 'PORT' is not set",
        ])
    }

    @Test func substitutedValuesAreNeverEchoed() {
        let secret = "sup3r-s3cret-passw0rd"
        let found = configErrors(minimalConfig + """
        [redis]
        url = "redis://:${PW}@bad host:6379/0"
        [identity]
        signing_secret = "${SIGNING}"
        [gateway]
        drain_timeout = "${DRAIN}"
        """, env: ["PW": secret, "SIGNING": "s3cret", "DRAIN": secret])
        #expect(found.count == 3)
        for line in found { #expect(!line.contains("s3cret"), "\(line)") }
        #expect(found.contains { $0.hasSuffix("invalid duration (value from the environment) for 'drain_timeout': expected a number with a unit ms, s, m, h or d, like \"250ms\", \"15s\" or \"1m30s\"") })
    }

    @Test func literalRedisPasswordsAreNotEchoedEither() {
        let found = configErrors(minimalConfig + """
        [redis]
        url = "redis://:hunter2@host:notaport/0"
        """)
        #expect(found.count == 1)
        #expect(!found[0].contains("hunter2"))
    }

    @Test func describePrintsTheRouteTableWithoutSecrets() throws {
        let config = try #require(validConfig("""
        [[listeners]]
        address = "127.0.0.1:8080"
        [admin]
        address = "127.0.0.1:9901"
        [upstreams.demo]
        targets = ["127.0.0.1:9000"]
        [redis]
        url = "redis://app:${PW}@127.0.0.1:6379/0"
        [identity]
        signing_secret = "${SIGNING}"
        [[routes]]
        name = "api"
        path_prefix = "/api/"
        upstream = "demo"
        strip_prefix = true
        [[routes]]
        name = "events"
        host = "stream.example.com"
        path = "/v1/{tenant}/events"
        methods = ["GET"]
        upstream = "demo"
        sse = true
        query_token = true
        scopes = ["events:read"]
        [[routes]]
        name = "plain"
        path = "/plain"
        upstream = "demo"
        auth = "none"
        """, env: ["PW": "hunter2hunter2", "SIGNING": String(repeating: "z", count: 40)]))
        let text = config.describe()
        #expect(!text.contains("hunter2"))
        #expect(!text.contains("zzzz"))
        #expect(text.contains("redis: redis://app:***@127.0.0.1:6379/0"))
        #expect(text.contains("listeners: 127.0.0.1:8080"))
        #expect(text.contains("admin: 127.0.0.1:9901"))
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("  NAME") })
        #expect(lines[header] == "  NAME    HOST                MATCH                           METHODS  UPSTREAM  AUTH                          REWRITE")
        // Match order: host-specific first, then exact path, then prefix.
        #expect(lines[header + 1] == "  events  stream.example.com  path=/v1/{tenant}/events (sse)  GET      demo      required+query [events:read]  -")
        #expect(lines[header + 2] == "  plain   *                   path=/plain                     *        demo      none                          -")
        #expect(lines[header + 3] == "  api     *                   prefix=/api/                    *        demo      required                      strip")
    }

    @Test func bytesThatAreNotUTF8AreRefusedWithTheFileName() {
        guard case .failure(let errors) = ConfigLoader.load(bytes: [0x61, 0xFF, 0x0A], fileName: "g.toml", environment: [:]) else {
            Issue.record("loaded invalid UTF-8"); return
        }
        #expect(errors.description == "g.toml: file is not valid UTF-8")
    }

    @Test func errorDescriptions() {
        let e = ConfigError(file: "g.toml", position: SourcePosition(line: 3, column: 7), message: "boom")
        #expect(e.description == "g.toml:3:7: boom")
        #expect(ConfigErrors(errors: [e, e]).description == "g.toml:3:7: boom\ng.toml:3:7: boom")
    }
}
