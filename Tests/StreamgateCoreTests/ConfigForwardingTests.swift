import Testing
@testable import StreamgateCore

/// `[[listeners]] trust_forwarded`, `allow_underscore_headers` and the header names the
/// gateway owns, as the config loader reads and checks them. Line arrays as in
/// ConfigValidationTests, so positions can be checked by eye (index + 1).
@Suite struct ConfigForwardingTests {
    func text(_ lines: [String]) -> String { lines.joined(separator: "\n") }

    static let upstreamAndRoute = ["[upstreams.u]", "targets = [\"h:1\"]", "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"u\""]

    @Test func trustForwardedIsPerListenerAndDefaultsToNobody() throws {
        let config = try #require(validConfig(text([
            "[[listeners]]", "address = \"127.0.0.1:8080\"",
            "trust_forwarded = [\"10.0.0.0/8\", \"::1/128\", \"192.0.2.7\", \"::ffff:172.16.0.0/108\", \"10.0.0.0/8\"]",
            "[[listeners]]", "address = \"127.0.0.1:8081\"",
            "[[listeners]]", "address = \"127.0.0.1:8082\"", "trust_forwarded = []",
        ] + Self.upstreamAndRoute)))
        #expect(config.listeners[0].trustForwarded.description == "10.0.0.0/8, ::1/128, 192.0.2.7/32, 172.16.0.0/12",
                "written order, bare hosts as /32, mapped blocks as IPv4, duplicates once")
        #expect(config.listeners[1].trustForwarded == .none)
        #expect(config.listeners[2].trustForwarded == .none)
        #expect(config.listeners[0].trustForwarded.trusts(peer: "10.20.30.40"))
        #expect(!config.listeners[1].trustForwarded.trusts(peer: "10.20.30.40"))
        #expect(config.describe().contains("listeners: 127.0.0.1:8080 (trusts forwarding from 10.0.0.0/8, ::1/128, 192.0.2.7/32, 172.16.0.0/12), 127.0.0.1:8081, 127.0.0.1:8082"))
    }

    @Test func badTrustForwardedEntriesAreReportedWhereTheyAre() {
        let found = configErrors(text([
            "[[listeners]]",
            "address = \"127.0.0.1:8080\"",
            "trust_forwarded = [\"10.0.0.0/33\",",                      // 3:20
            "  \"10.1.2.3/8\", \"proxy.internal\",",                   // 4:3, 4:17
            "  \"::1/128\", \"2001:db8::1/32\"]",                      // 5:14
            "[[listeners]]",
            "address = \"127.0.0.1:8081\"",
            "trust_forwarded = \"10.0.0.0/8\"",                         // 8:19
            "[[listeners]]",
            "address = \"127.0.0.1:8082\"",
            "trust_forwarded = [\"10.0.0.0/8\", 7]",                    // 11:34
        ] + Self.upstreamAndRoute))
        #expect(found == [
            "t.toml:3:20: invalid CIDR \"10.0.0.0/33\" in 'trust_forwarded': the prefix length must be a number from 0 to 32",
            "t.toml:4:3: invalid CIDR \"10.1.2.3/8\" in 'trust_forwarded': bits are set past the /8 prefix: write the network address 10.0.0.0/8, or a longer prefix",
            "t.toml:4:17: invalid CIDR \"proxy.internal\" in 'trust_forwarded': expected an IPv4 or IPv6 address, optionally followed by /prefix-length",
            "t.toml:5:14: invalid CIDR \"2001:db8::1/32\" in 'trust_forwarded': bits are set past the /32 prefix: write the network address 2001:db8::/32, or a longer prefix",
            "t.toml:8:19: expected an array of strings, found string",
            "t.toml:11:34: expected a string, found integer",
        ])
    }

    @Test func proxyProtocolIsPerListenerAndOffByDefault() throws {
        let config = try #require(validConfig(text([
            "[[listeners]]", "address = \"127.0.0.1:8080\"", "proxy_protocol = true", "trust_forwarded = [\"10.0.0.0/8\"]",
            "[[listeners]]", "address = \"127.0.0.1:8081\"",
            "[[listeners]]", "address = \"127.0.0.1:8082\"", "proxy_protocol = false",
        ] + Self.upstreamAndRoute)))
        #expect(config.listeners.map(\.proxyProtocol) == [true, false, false])
        #expect(config.describe().contains("listeners: 127.0.0.1:8080 (proxy_protocol) (trusts forwarding from 10.0.0.0/8), 127.0.0.1:8081, 127.0.0.1:8082"))
        #expect(configErrors(text(["[[listeners]]", "address = \"127.0.0.1:8080\"", "proxy_protocol = \"yes\""] + Self.upstreamAndRoute)) == [
            "t.toml:3:18: expected a boolean (true or false), found string",
        ])
        #expect(configErrors(text(["[[listeners]]", "address = \"127.0.0.1:8080\"", "proxy_protcol = true"] + Self.upstreamAndRoute)) == [
            "t.toml:3:1: unknown key 'proxy_protcol' in [[listeners]] (did you mean 'proxy_protocol'?)",
        ])
    }

    @Test func trustForwardedValuesFromTheEnvironmentAreNotEchoed() {
        let found = configErrors(text([
            "[[listeners]]", "address = \"127.0.0.1:8080\"", "trust_forwarded = [\"${PROXIES}\"]",
        ] + Self.upstreamAndRoute), env: ["PROXIES": "10.0.0.0/99"])
        #expect(found == [
            "t.toml:3:20: invalid CIDR (value from the environment) in 'trust_forwarded': the prefix length must be a number from 0 to 32",
        ])
    }

    static let authRoutes = [
        "[[listeners]]", "address = \"127.0.0.1:8080\"",
        "[redis]", "url = \"redis://127.0.0.1:6379/0\"",
        "[upstreams.u]", "targets = [\"h:1\"]",
        "[[routes]]", "name = \"required\"", "path = \"/r\"", "upstream = \"u\"",
        "[[routes]]", "name = \"optional\"", "path = \"/o\"", "upstream = \"u\"", "auth = \"optional\"",
        "[[routes]]", "name = \"open\"", "path = \"/n\"", "upstream = \"u\"", "auth = \"none\"",
    ]

    @Test func underscoreHeadersAreRefusedOnAuthenticatingRoutesByDefault() throws {
        let config = try #require(validConfig(text(Self.authRoutes)))
        #expect(config.auth.allowUnderscoreHeaders == false)
        #expect(config.routes.map(\.auth.refusesUnderscoreHeaders) == [true, true, false])
    }

    @Test func authTableSetsTheDefaultAndRoutesOverrideIt() throws {
        let allowAll = try #require(validConfig(text(Self.authRoutes + ["[auth]", "allow_underscore_headers = true"])))
        #expect(allowAll.routes.map(\.auth.refusesUnderscoreHeaders) == [false, false, false])
        #expect(allowAll.describe().contains("+underscore-headers"))

        var lines = Self.authRoutes
        lines.insert("allow_underscore_headers = false", at: lines.firstIndex(of: "auth = \"optional\"")! + 1)
        lines.insert("allow_underscore_headers = true", at: lines.firstIndex(of: "path = \"/r\"")! + 1)
        let mixed = try #require(validConfig(text(lines + ["[auth]", "allow_underscore_headers = true"])))
        #expect(mixed.routes.map(\.auth.refusesUnderscoreHeaders) == [false, true, false])
    }

    @Test func allowUnderscoreHeadersNeedsAnAuthenticatingRoute() {
        var lines = Self.authRoutes
        lines.append("allow_underscore_headers = true")             // on the auth = "none" route: 21:28
        lines += ["[auth]", "allow_underscore_headers = \"yes\""]    // 23:28
        #expect(configErrors(text(lines)) == [
            "t.toml:21:28: 'allow_underscore_headers' has no effect with auth = \"none\"",
            "t.toml:23:28: expected a boolean (true or false), found string",
        ])
    }

    /// An identity header that is a spelling of another one, or of a forwarding header, would
    /// give the upstream two values under one name.
    @Test func identityHeadersMayNotAliasOwnedNames() {
        let found = configErrors(text(Self.authRoutes + [
            "[identity]",                           // 21
            "user_header = \"X-Who\"",
            "tenant_header = \"x_who\"",            // 23:17
            "scopes_header = \"X_Forwarded_For\"",  // 24:17
            "signature_header = \"x-request-id\"",  // 25:20
        ]))
        #expect(found == [
            "t.toml:23:17: 'tenant_header' uses the same header as 'user_header'",
            "t.toml:24:17: 'scopes_header' names X-Forwarded-For, which the gateway sets itself on every request",
            "t.toml:25:20: 'signature_header' names X-Request-Id, which the gateway sets itself on every request",
        ])
    }
}
