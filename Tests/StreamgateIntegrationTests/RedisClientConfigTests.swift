import StreamgateIO
import Testing

@Suite("RedisClientConfig")
struct RedisClientConfigTests {
    @Test func parsesTheContractURL() throws {
        let c = try RedisClientConfig(url: "redis://127.0.0.1:6379/0")
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 6379)
        #expect(c.database == 0)
        #expect(c.username == nil)
        #expect(c.password == nil)
    }

    @Test func parsesCredentialsAndDatabase() throws {
        let acl = try RedisClientConfig(url: "redis://gw:p%40ss%3Aword@redis.internal:6380/4", commandTimeout: .milliseconds(250))
        #expect(acl.username == "gw")
        #expect(acl.password == "p@ss:word")
        #expect(acl.host == "redis.internal")
        #expect(acl.port == 6380)
        #expect(acl.database == 4)
        #expect(acl.commandTimeout == .milliseconds(250))

        let passwordOnly = try RedisClientConfig(url: "redis://:secret@localhost")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.port == 6379)

        let v6 = try RedisClientConfig(url: "redis://[::1]:7000/")
        #expect(v6.host == "::1")
        #expect(v6.port == 7000)
        #expect(v6.database == 0)
    }

    @Test func rejectsBadURLsWithoutEchoingPasswords() {
        for bad in ["http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/-1",
                    "redis://h/db", "redis://[::1", "redis://u:%zz@h"] {
            #expect(throws: RedisConfigError.self) { try RedisClientConfig(url: bad) }
        }
        do {
            _ = try RedisClientConfig(url: "redis://u:topsecret@h:bad")
        } catch {
            #expect(!error.description.contains("topsecret"))
        }
    }
}

@Suite("RedisBackoff")
struct RedisBackoffTests {
    @Test func doublesFrom100msTo5s() {
        let ceilings = (0..<9).map { RedisBackoff.ceiling(afterFailures: $0).milliseconds }
        #expect(ceilings == [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000])
        #expect(RedisBackoff.ceiling(afterFailures: 1000) == .seconds(5))
    }

    @Test func jitterStaysBetweenHalfAndFullCeiling() {
        var b = RedisBackoff()
        for n in 0..<40 {
            let cap = RedisBackoff.ceiling(afterFailures: n)
            let d = b.nextDelay()
            #expect(d >= cap / 2 && d <= cap)
        }
        b.reset()
        #expect(b.failures == 0)
        #expect(b.nextDelay() <= .milliseconds(100))
    }
}
