import Testing
@testable import StreamgateCore

/// `[limits] shared` and `lease_ttl`: fleet-wide stream limits need Redis, and leases must
/// outlast the renewals that keep them. Line arrays, so positions read as index + 1.
@Suite struct ConfigSharedLimitsTests {
    func text(_ lines: [String]) -> String { lines.joined(separator: "\n") }

    static let base = ["[[listeners]]", "address = \"*:8080\"", "[upstreams.u]", "targets = [\"h:1\"]",
                       "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"u\""]
    static let redis = ["[redis]", "url = \"redis://127.0.0.1:6379/0\""]

    @Test func sharedWithRedisAndItsDefaults() throws {
        let config = try #require(validConfig(text(Self.base + Self.redis + ["[limits]", "shared = true", "max_streams_per_user = 2"])))
        #expect(config.limits.shared)
        #expect(config.limits.leaseTTL == .seconds(30))
        #expect(config.describe().contains("stream limits: per user and tenant across instances (Redis leases, lease_ttl 30s)"))
        let short = try #require(validConfig(text(Self.base + Self.redis + ["timeout = \"300ms\"", "[limits]", "shared = true", "lease_ttl = \"1s\""])))
        #expect(short.limits.leaseTTL == .seconds(1))
        let local = try #require(validConfig(text(Self.base + ["[limits]", "shared = false", "lease_ttl = \"5s\""])))
        #expect(!local.limits.shared, "shared = false needs no Redis")
        #expect(local.describe().contains("stream limits: per instance"))
    }

    @Test func sharedNeedsRedisAndLeasesOutlastRenewals() {
        #expect(configErrors(text(Self.base + ["[limits]", "shared = true"])) == [
            "t.toml:10:10: shared = true counts streams in Redis: it needs a [redis] table",
        ])
        #expect(configErrors(text(Self.base + ["[limits]", "lease_ttl = \"500ms\"", "shared = \"yes\""])) == [
            "t.toml:10:13: 'lease_ttl' must be at least 1s (leases are renewed every third of it)",
            "t.toml:11:10: expected a boolean (true or false), found string",
        ])
        #expect(configErrors(text(Self.base + Self.redis + ["timeout = \"2s\"", "[limits]", "shared = true", "lease_ttl = \"5s\""])) == [
            "t.toml:14:13: 'lease_ttl' must be at least 3 x the [redis] timeout (6s): leases are renewed every third of it, and a renewal may take the whole timeout",
        ])
        #expect(configErrors(text(Self.base + Self.redis + ["timeout = \"11s\"", "[limits]", "shared = true"])) == [
            "t.toml:13:1: the default 'lease_ttl' (30s) is under 3 x the [redis] timeout: set lease_ttl to at least 33s",
        ])
        #expect(configErrors(text(Self.base + ["[limits]", "lease_ttl = 30"])) == [
            "t.toml:10:13: expected a duration string like \"15s\", found integer",
        ])
    }
}
