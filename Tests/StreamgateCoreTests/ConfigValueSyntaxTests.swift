import Testing
@testable import StreamgateCore

@Suite struct ConfigValueSyntaxTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("15s", .seconds(15)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
        ("1d", .seconds(86_400)), ("1m30s", .seconds(90)), ("1h30m", .seconds(5400)), ("1s500ms", .milliseconds(1500)),
        ("0s", .zero), ("0", .zero), ("0ms", .zero),
    ])
    func durationsParse(text: String, expected: Duration) {
        #expect(DurationSyntax.parse(text) == expected)
    }

    @Test(arguments: ["", "15", "15x", "s", "-5s", "1.5s", "15 s", " 15s", "15S", "30s1m", "1m1m", "1ms5s", "99999999999999999999d", "1h "])
    func invalidDurationsAreRejected(text: String) {
        #expect(DurationSyntax.parse(text) == nil)
    }

    @Test func durationsFormatShortest() {
        #expect(DurationSyntax.format(.seconds(90)) == "1m30s")
        #expect(DurationSyntax.format(.milliseconds(250)) == "250ms")
        #expect(DurationSyntax.format(.zero) == "0s")
        #expect(DurationSyntax.format(.seconds(86_400 + 1)) == "1d1s")
    }

    @Test(arguments: [
        ("64KiB", 65_536), ("1MiB", 1_048_576), ("2GiB", 2_147_483_648), ("10KB", 10_000), ("10MB", 10_000_000),
        ("1GB", 1_000_000_000), ("512B", 512), ("512", 512), ("0", 0),
    ])
    func sizesParse(text: String, expected: Int) {
        #expect(ByteSize.parse(text) == expected)
    }

    @Test(arguments: ["", "KiB", "64kib", "64 KiB", "1Mb", "1.5MiB", "-1", "64KiBs", "99999999999999999999"])
    func invalidSizesAreRejected(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func sizesFormat() {
        #expect(ByteSize.format(65_536) == "64KiB")
        #expect(ByteSize.format(1 << 20) == "1MiB")
        #expect(ByteSize.format(1000) == "1000B")
    }

    @Test func environmentSubstitution() throws {
        let env = ["USER_NAME": "svc", "PW": "s3cret", "EMPTY": ""]
        #expect(try EnvironmentSubstitution.apply("plain", environment: env).get() == ("plain", false))
        #expect(try EnvironmentSubstitution.apply("redis://${USER_NAME}:${PW}@h", environment: env).get() == ("redis://svc:s3cret@h", true))
        #expect(try EnvironmentSubstitution.apply("a${EMPTY}b", environment: env).get() == ("ab", true))
        #expect(try EnvironmentSubstitution.apply("cost $5 and $${HOME}", environment: env).get() == ("cost $5 and ${HOME}", false))
        #expect(try EnvironmentSubstitution.apply("$", environment: env).get() == ("$", false))
        #expect(try EnvironmentSubstitution.apply("$$", environment: env).get() == ("$$", false))
    }

    @Test func environmentSubstitutionFailures() {
        #expect(throws: EnvironmentSubstitution.Failure(message: "environment variable 'NOPE' is not set")) {
            try EnvironmentSubstitution.apply("${NOPE}", environment: [:]).get()
        }
        #expect(throws: EnvironmentSubstitution.Failure.self) { try EnvironmentSubstitution.apply("${OPEN", environment: [:]).get() }
        #expect(throws: EnvironmentSubstitution.Failure.self) { try EnvironmentSubstitution.apply("${}", environment: [:]).get() }
        #expect(throws: EnvironmentSubstitution.Failure.self) { try EnvironmentSubstitution.apply("${1A}", environment: ["1A": "x"]).get() }
        #expect(throws: EnvironmentSubstitution.Failure.self) { try EnvironmentSubstitution.apply("${A-B}", environment: [:]).get() }
    }

    @Test func listenAddresses() throws {
        #expect(try ListenAddress.parse("127.0.0.1:8080").get() == ListenAddress(host: "127.0.0.1", port: 8080, family: .ipv4))
        #expect(try ListenAddress.parse("*:80").get() == ListenAddress(host: "0.0.0.0", port: 80, family: .ipv4))
        #expect(try ListenAddress.parse("0.0.0.0:0").get() == ListenAddress(host: "0.0.0.0", port: 0, family: .ipv4))
        #expect(try ListenAddress.parse("[::1]:8443").get() == ListenAddress(host: "::1", port: 8443, family: .ipv6))
        #expect(try ListenAddress.parse("[::]:8443").get().description == "[::]:8443")
        #expect(try ListenAddress.parse("[2001:DB8::1]:1").get().host == "2001:db8::1")
        for bad in ["127.0.0.1", "localhost:80", "::1:80", "[::1]", "[::1]80", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.256:80",
                    "01.2.3.4:80", ":80", "1.2.3.4:", "[1::2::3]:80", "[12345::]:80", "1.2.3.4:+80"] {
            #expect(throws: AddressSyntaxError.self, "\(bad)") { try ListenAddress.parse(bad).get() }
        }
    }

    @Test func ipv6Syntax() {
        for good in ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "fe80::1:2", "::ffff:192.0.2.1", "1:2:3:4:5:6:1.2.3.4"] {
            #expect(NetworkAddressSyntax.isIPv6(good), "\(good)")
        }
        for bad in [":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", "g::1", "1:2:3:4:5:6:7::8:9", "::1.2.3", "fe80::1%eth0"] {
            #expect(!NetworkAddressSyntax.isIPv6(bad), "\(bad)")
        }
    }

    @Test func upstreamTargets() throws {
        #expect(try UpstreamTarget.parse("Events.Internal:9000").get() == UpstreamTarget(host: "events.internal", port: 9000))
        #expect(try UpstreamTarget.parse("[::1]:9000").get().description == "[::1]:9000")
        for bad in ["host", "host:0", "ho_st:80", "-host:80", "host:99999", "a..b:80", "[zz]:80"] {
            #expect(throws: AddressSyntaxError.self, "\(bad)") { try UpstreamTarget.parse(bad).get() }
        }
    }

    @Test func redisURLs() throws {
        let full = try RedisConfig.parseURL("redis://app:p%40ss@redis.internal:6380/3").get()
        #expect(full.host == "redis.internal")
        #expect(full.port == 6380)
        #expect(full.user == "app")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)

        let passwordOnly = try RedisConfig.parseURL("redis://:secret@127.0.0.1:6379/0").get()
        #expect(passwordOnly.user == nil)
        #expect(passwordOnly.password == "secret")

        let bare = try RedisConfig.parseURL("redis://localhost").get()
        #expect(bare.host == "localhost" && bare.port == 6379 && bare.database == 0 && bare.user == nil && bare.password == nil)
        #expect(try RedisConfig.parseURL("redis://[::1]:7000/").get().port == 7000)
        #expect(try RedisConfig.parseURL("redis://[::1]").get().host == "::1")

        for bad in ["http://h:1/0", "rediss://h:6379/0", "redis://", "redis://h:port/0", "redis://h:1/x", "redis://u:%zz@h:1/0"] {
            #expect(throws: AddressSyntaxError.self, "\(bad)") { try RedisConfig.parseURL(bad).get() }
        }
    }

    @Test func redisDescriptionRedactsThePassword() {
        let r = RedisConfig(host: "h", port: 6379, user: "app", password: "hunter2", database: 1)
        #expect(r.description == "redis://app:***@h:6379/1")
        #expect(RedisConfig(host: "h").description == "redis://h:6379/0")
        #expect(RedisConfig(host: "::1", password: "x").description == "redis://:***@[::1]:6379/0")
    }

    @Test func editDistanceSuggestions() {
        #expect(EditDistance.between("kitten", "sitting") == 3)
        #expect(EditDistance.suggestion(for: "keepalive_timout", among: ["keepalive_timeout", "header_timeout"]) == "keepalive_timeout")
        #expect(EditDistance.suggestion(for: "upstreem", among: ["upstream"]) == "upstream")
        #expect(EditDistance.suggestion(for: "zzzz", among: ["upstream"]) == nil)
    }
}
