import Testing
@testable import StreamgateCore

/// /work/shared/config-contract.toml, verbatim: the key names operators and the acceptance
/// checks rely on. It must load, with the meanings it documents.
@Suite struct ConfigContractTests {
    static let contract = """
# The configuration contract: the key names below are what operators, the docs and the
# acceptance checks rely on. Keep these names and meanings; add any keys you need beside
# them, and document every key in gateway.example.toml. Values here are examples, except in
# [sessions.fields], [auth] and [identity], where the values shown are also the defaults.
# Every table but [[listeners]], [upstreams.*] and [[routes]] is optional.

[gateway]
workers = "auto"              # event-loop threads; "auto" = number of cores
drain_timeout = "30s"         # SIGTERM: time given to streams to end at an event boundary

[[listeners]]
address = "127.0.0.1:8080"
# tls_cert = "/etc/streamgate/cert.pem"
# tls_key  = "/etc/streamgate/key.pem"

[admin]
address = "127.0.0.1:9901"    # /metrics, /healthz, /readyz

[redis]
url = "redis://127.0.0.1:6379/0"   # redis://[user:password@]host:port/db ; ${ENV} allowed
timeout = "250ms"                  # per lookup; past it the request gets 503

[sessions]
key = "session:{sha256}"      # {sha256} = hex SHA-256 of the token; {token} = the raw token
format = "hash"               # "hash" (HGETALL) or "json" (GET, a JSON object)
cache_ttl = "30s"             # never past the session's own expiry
negative_ttl = "5s"
cache_size = 100000
revocation_channel = "streamgate:revoked"   # PUBLISH <sha256 of token> to revoke at once
recheck_interval = "60s"      # live streams re-validated this often

[sessions.fields]             # where each value sits in the record
user = "user_id"
tenant = "tenant_id"
expires_at = "expires_at"     # unix seconds or RFC 3339; absent = the key's TTL alone
kind = "kind"                 # "session" (header or query) or "api_key" (header only)
scopes = "scopes"             # space-separated in a hash, array in JSON
origins = "allowed_origins"   # space-separated in a hash, array in JSON

[auth]
api_key_header = "X-Api-Key"
query_param = "access_token"

[identity]
user_header = "X-Auth-User-Id"
tenant_header = "X-Auth-Tenant-Id"
scopes_header = "X-Auth-Scopes"
# signing_secret = "${STREAMGATE_SIGNING_SECRET}"   # enables the signed assertion header

[upstreams.events]
targets = ["127.0.0.1:9000"]
connect_timeout = "2s"

[[routes]]
name = "tenant-events"
path = "/v1/tenants/{tenant}/events"   # exact path or pattern; `path_prefix` for prefixes
methods = ["GET"]
upstream = "events"
auth = "required"             # "required" | "optional" | "none"
query_token = true            # accept ?access_token= on this route
tenant_param = "tenant"       # this path parameter must equal the session's tenant
scopes = ["events:read"]      # all required
keepalive = "15s"
max_stream_duration = "1h"
cors_origins = ["https://app.example.com"]   # or "session": the session's allowed origins

[[routes]]
name = "api"
path_prefix = "/api/"
upstream = "events"
auth = "required"
"""

    @Test func theContractLoads() throws {
        let config = try #require(validConfig(Self.contract))
        #expect(config.gateway.workers == .auto)
        #expect(config.gateway.drainTimeout == .seconds(30))
        #expect(config.admin?.address.description == "127.0.0.1:9901")
        #expect(config.redis == RedisConfig(host: "127.0.0.1", port: 6379, database: 0, timeout: .milliseconds(250)))
        #expect(config.sessions == SessionsConfig())
        #expect(config.auth == AuthConfig())
        #expect(config.identity == IdentityConfig())
        #expect(config.upstreams.map(\.name) == ["events"])
        let events = config.routes[0]
        #expect(events.name == "tenant-events")
        #expect(events.path == .pattern(try PathPattern.parse("/v1/tenants/{tenant}/events").get()))
        #expect(events.methods == ["GET"])
        #expect(events.auth.policy == RouteAuthPolicy(mode: .required, allowQueryToken: true, requiredScopes: ["events:read"],
                                                      tenantParameter: "tenant", corsOrigins: .list([WebOrigin("https://app.example.com")!])))
        #expect(events.stream.keepalive == .seconds(15))
        #expect(events.stream.maxStreamDuration == .seconds(3600))
        #expect(config.routes[1].path == .prefix("/api/"))
        #expect(config.routes[1].auth.mode == .required)
    }
}
