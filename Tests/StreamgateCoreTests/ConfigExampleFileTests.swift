import Testing
@testable import StreamgateCore

@Suite struct ConfigExampleFileTests {
    static let example = "gateway.example.toml"

    @Test func exampleValidatesAndRunsTheDemo() throws {
        let config = try loadRepositoryConfig(Self.example).get()
        #expect(config.listeners.map(\.address.description) == ["127.0.0.1:8080"])
        #expect(config.listeners[0].trustForwarded == .none, "the documented default: the gateway is the edge")
        #expect(config.admin?.address.description == "127.0.0.1:9901")
        #expect(config.upstreams.map(\.name) == ["demo"])
        #expect(config.upstream(named: "demo")?.targets == [UpstreamTarget(host: "127.0.0.1", port: 9000)])
        #expect(config.redis == nil)
        #expect(config.routes.map(\.name) == ["plain", "events", "api"])
        #expect(config.routes.allSatisfy { $0.auth.mode == .none })
        #expect(config.routes[1].forceStream)
        #expect(config.routes[2].path == .prefix("/api/"))
        #expect(config.routes[2].rewrite == .stripPrefix)

        let router = Router(routes: config.routes)
        guard case .matched(let events, _) = router.match(method: "GET", host: "127.0.0.1:8080", path: "/events") else {
            Issue.record("no match for /events"); return
        }
        #expect(events === config.routes[1])
        guard case .matched(let api, _) = router.match(method: "GET", host: "localhost", path: "/api/plain") else {
            Issue.record("no match for /api/plain"); return
        }
        #expect(api.upstreamPath("/api/plain") == "/plain")
    }

    /// The documented defaults in the example are the real defaults: loading the example
    /// gives the same settings as a config that leaves those tables out.
    @Test func exampleStatesTheDefaults() throws {
        let config = try loadRepositoryConfig(Self.example).get()
        #expect(config.gateway == GatewaySettings())
        #expect(config.limits == LimitsConfig())
        #expect(config.sse == StreamSettings())
        #expect(config.upstreams[0] == UpstreamConfig(name: "demo", targets: [UpstreamTarget(host: "127.0.0.1", port: 9000)]))
    }

    /// With the commented-out auth tables enabled, the example must still validate, and
    /// give the contract's defaults.
    @Test func commentedAuthSectionsValidateWhenEnabled() throws {
        let text = try repositoryFile(Self.example)
        var uncommented: [Substring] = []
        var inAuth = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# --- authentication") { inAuth = true }
            let body = line.dropFirst(2)
            let isTableHeader = body.hasPrefix("[") && body.dropFirst().first?.isLowercase == true
            let isKeyLine = body.prefix { $0 != " " }.allSatisfy { $0.isLowercase || $0 == "_" } && body.contains(" = ")
            if inAuth, line.hasPrefix("# "), isTableHeader || isKeyLine {
                uncommented.append(body)
            } else {
                uncommented.append(line)
            }
        }
        let env = ["STREAMGATE_SIGNING_SECRET": String(repeating: "k", count: 40)]
        let config = try ConfigLoader.load(text: uncommented.joined(separator: "\n"), fileName: "example+auth", environment: env).get()
        #expect(config.redis == RedisConfig(host: "127.0.0.1", port: 6379, database: 0))
        #expect(config.sessions == SessionsConfig())
        #expect(config.auth == AuthConfig())
        #expect(config.identity == IdentityConfig(signingSecret: String(repeating: "k", count: 40)))
        #expect(!config.describe().contains("kkkk"))
    }
    /// demo/gateway.toml, which scripts/quickstart.sh runs: valid with its four port
    /// variables, and an authenticated tenant stream in front of the demo upstream.
    @Test func demoConfigValidatesWithItsPortVariables() throws {
        let path = "demo/gateway.toml"
        let env = ["STREAMGATE_DEMO_PORT": "18080", "STREAMGATE_DEMO_ADMIN_PORT": "19901",
                   "STREAMGATE_DEMO_UPSTREAM_PORT": "19000", "STREAMGATE_DEMO_REDIS_PORT": "16390"]
        let config = try loadRepositoryConfig(path, env: env).get()
        #expect(config.listeners.map(\.address.description) == ["127.0.0.1:18080"])
        #expect(config.admin?.address.description == "127.0.0.1:19901")
        #expect(config.upstream(named: "demo")?.targets == [UpstreamTarget(host: "127.0.0.1", port: 19000)])
        #expect(config.redis == RedisConfig(host: "127.0.0.1", port: 16390, database: 0))
        #expect(config.sessions == SessionsConfig(), "the defaults, which the README's examples assume")
        let tenant = try #require(config.routes.first { $0.name == "tenant-events" })
        #expect(tenant.auth.mode == .required)
        #expect(tenant.auth.policy.allowQueryToken)
        #expect(tenant.auth.policy.tenantParameter == "tenant")
        #expect(tenant.auth.policy.requiredScopes == ["events:read"])
        #expect(config.routes.filter { $0.name != "tenant-events" }.allSatisfy { $0.auth.mode == .none })

        // Without the variables it names every one that is missing, rather than running on defaults.
        guard case .failure(let errors) = try loadRepositoryConfig(path) else {
            Issue.record("loaded without its port variables"); return
        }
        for name in env.keys { #expect(errors.errors.contains { $0.description.contains(name) }, "\(name): \(errors.errors)") }
    }
}
