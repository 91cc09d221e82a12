@testable import Streamgate
import StreamgateCore
import StreamgateIO
import Testing

/// What the data path reads (`ProxySettings`, `AuthRuntime`, the Redis client's settings)
/// comes from the decoded config with every setting intact: each key below is set to a value
/// other than its default and looked up where the request path looks for it.
@Suite struct SettingsFromConfigTests {
    static var examplePath: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3) // Tests/StreamgateIntegrationTests/<this file>
        return parts.joined(separator: "/") + "/gateway.example.toml"
    }

    static let everyKey = """
    [[listeners]]
    address = "127.0.0.1:8080"
    trust_forwarded = ["10.0.0.0/8"]
    proxy_protocol = true

    [limits]
    max_header_bytes = "16KiB"
    max_headers = 50
    max_body_bytes = "1MiB"
    max_connections = 20
    keepalive_timeout = "5s"
    header_timeout = "2s"
    send_timeout = "3s"
    client_buffer = "4KiB"
    max_connections_per_ip = 9
    shared = true
    lease_ttl = "45s"

    [redis]
    url = "redis://app:pw@127.0.0.1:6380/2"
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
    user = "uid"
    tenant = "org"
    expires_at = "exp"
    kind = "type"
    scopes = "perms"
    origins = "web_origins"

    [auth]
    api_key_header = "X-Key"
    query_param = "tok"
    max_token_length = 512

    [identity]
    user_header = "X-U"
    tenant_header = "X-T"
    scopes_header = "X-S"
    signing_secret = "0123456789abcdef0123456789abcdef"
    signature_header = "X-Sig"

    [upstreams.events]
    targets = ["127.0.0.1:9000"]
    connect_timeout = "500ms"
    read_timeout = "5s"
    pool_size = 3
    idle_timeout = "10s"

    [[routes]]
    name = "events"
    path = "/v1/{tenant}/events"
    upstream = "events"
    tenant_param = "tenant"
    session_end_event = "bye"
    """

    @Test func everySettingReachesTheRuntimeValues() throws {
        let config = try ConfigLoader.load(text: Self.everyKey, fileName: "every.toml", environment: [:]).get()
        let settings = try ProxySettings(config: config)

        let listener = settings.listener(configured: try SocketAddress.resolve("127.0.0.1:8080"))
        #expect(listener.trustForwarded == config.listeners[0].trustForwarded)
        #expect(!listener.trustForwarded.isEmpty)
        #expect(listener.proxyProtocol)

        #expect(settings.limits.maxHeaderBytes == 16 << 10 && settings.limits.maxHeaderCount == 50)
        #expect(settings.maxBodyBytes == 1 << 20)
        #expect(settings.maxConnections == 20)
        #expect(settings.keepaliveTimeout == .seconds(5) && settings.headerTimeout == .seconds(2) && settings.sendTimeout == .seconds(3))
        #expect(settings.clientBuffer == 4 << 10)
        #expect(settings.config.limits.maxConnectionsPerIP == 9)
        #expect(settings.config.limits.shared && settings.config.limits.leaseTTL == .seconds(45))

        let auth = try #require(settings.auth)
        #expect(auth.redis == RedisClientConfig(host: "127.0.0.1", port: 6380, username: "app", password: "pw", database: 2,
                                                commandTimeout: .milliseconds(100), connectTimeout: .seconds(3)))
        #expect(auth.keyTemplate == (try SessionKeyTemplate("s:{token}")))
        #expect(auth.format == .json)
        #expect(auth.cacheTTL == .zero && auth.negativeTTL == .seconds(1) && auth.cacheSize == 10)
        #expect(auth.revocationChannel == "rev" && auth.recheckInterval == .seconds(300))
        #expect(auth.fields == SessionFieldMapping(user: "uid", tenant: "org", expiresAt: "exp", kind: "type",
                                                   scopes: "perms", origins: "web_origins"))
        #expect(auth.extractor == TokenExtractor(apiKeyHeader: "X-Key", queryParameter: "tok", maxTokenLength: 512))

        #expect(settings.identity == IdentityHeaders(userHeader: "X-U", tenantHeader: "X-T", scopesHeader: "X-S", signatureHeader: "X-Sig"))
        // The signer is keyed with the configured secret.
        let signer = try #require(settings.signer)
        #expect(signer.mac(Array("m".utf8)) == TestCrypto.hmacSHA256(key: Array("0123456789abcdef0123456789abcdef".utf8), message: Array("m".utf8)))

        let upstream = try #require(settings.upstreams.first)
        #expect(upstream.config == config.upstreams[0])
        #expect(upstream.poolSize == 3 && upstream.idleTimeout == .seconds(10))
        #expect(upstream.targets.map(\.name) == ["127.0.0.1:9000"])

        // Routes are the decoded values themselves, with their upstream's timeouts inherited.
        let route = try #require(settings.routes.first)
        #expect(route === config.routes[0])
        #expect(route.connectTimeout == .milliseconds(500) && route.readTimeout == .seconds(5))
        #expect(route.auth.sessionEndEvent == "bye")
        #expect(route.auth.cors == nil)
        #expect(settings.upstreams[route.upstreamIndex].name == "events")
    }

    /// `[redis]` keys each reach the client's settings (the one runtime type Core cannot build).
    @Test func redisClientConfigCarriesEveryRedisKey() {
        let redis = RedisConfig(host: "r.internal", port: 7000, user: "u", password: "p", database: 3,
                                timeout: .milliseconds(70), connectTimeout: .seconds(4))
        #expect(RedisClientConfig(redis) == RedisClientConfig(host: "r.internal", port: 7000, username: "u", password: "p", database: 3,
                                                             commandTimeout: .milliseconds(70), connectTimeout: .seconds(4)))
    }

    /// The example file, read the way `streamgate run` reads it, resolves for the data path.
    @Test func exampleFileLoadsThroughConfigFile() throws {
        let loaded = try ConfigFile.load(path: Self.examplePath, environment: [:]).get()
        #expect(loaded.bytes.count > 1000)
        let settings = try ProxySettings(config: loaded.config)
        #expect(settings.routes.map(\.name) == ["plain", "events", "api"])
        #expect(settings.routes.map(\.index) == [0, 1, 2])
        #expect(settings.routes[1].forceStream)
        #expect(settings.listener(configured: try SocketAddress.resolve("127.0.0.1:8080")).trustForwarded.isEmpty)
        #expect(settings.auth == nil)
    }

    @Test func missingFileSaysSo() {
        guard case .failure(let errors) = ConfigFile.load(path: "/nonexistent/streamgate.toml", environment: [:]) else {
            Issue.record("loaded a missing file"); return
        }
        #expect(errors.description == "/nonexistent/streamgate.toml: cannot open: No such file or directory")
    }
}
