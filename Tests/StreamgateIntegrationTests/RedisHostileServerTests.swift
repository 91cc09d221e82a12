import StreamgateCore
@testable import StreamgateIO
import Testing

/// A Redis that breaks the protocol (a `FakeRedis`, then a real one on the same port).
/// hiredis' async layer aborted the process on several of these replies; now each one ends
/// the connection it came on, which reconnects with backoff. Serialized: reconnects are timed.
@Suite("RedisHostileServer", .serialized)
struct RedisHostileServerTests {
    private func config(_ port: UInt16, _ change: (inout RedisClientConfig) -> Void = { _ in }) -> RedisClientConfig {
        var c = RedisClientConfig(host: "127.0.0.1", port: Int(port), commandTimeout: .seconds(2), connectTimeout: .seconds(1))
        change(&c)
        return c
    }

    /// The connection the latest SUBSCRIBE came on.
    private func pubsubConnection(_ fake: FakeRedis) -> Int? {
        fake.commands.last { $0.name == "SUBSCRIBE" }?.connection
    }

    @Test func unsolicitedReplyDropsTheConnectionNotTheProcess() throws {
        let fake = try FakeRedis()
        defer { fake.stop() }
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(fake.port))
        defer { client.close() }
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))

        fake.push(RESP.simple("OK"), connection: 0)
        #expect(d.run { client.protocolErrors == 1 })
        #expect(client.lastError?.contains("unsolicited reply") == true)
        #expect(!client.isConnected)
        // Fail closed while it backs off...
        #expect(d.send(client, ["PING"]) == .failure(.unavailable))
        // ...then it reconnects by itself.
        #expect(d.sendUntilSuccess(client, ["PING"]) == .status("PONG"))
        #expect(fake.connections == 2)

        // An unsolicited error (what a server at maxclients sends before closing) is kept as the reason.
        fake.push(RESP.error("ERR max number of clients reached"), connection: 1)
        #expect(d.run { client.protocolErrors == 2 })
        #expect(client.lastError?.contains("max number of clients reached") == true)
    }

    /// Pushes that made hiredis 0.14 assert, then one it silently ignored: each ends the
    /// pub/sub connection, which resubscribes; the command connection is untouched.
    @Test func malformedPubSubPushesDropOnlyThePubSubConnection() throws {
        let fake = try FakeRedis()
        defer { fake.stop() }
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(fake.port))
        defer { client.close() }
        var received: [String] = []
        client.subscribe(channel: "revoked") { received.append(String(decoding: $0, as: UTF8.self)) }
        #expect(d.send(client, ["ECHO", "before"]) == .success(.string(Array("before".utf8))))

        let pushes: [(String, [UInt8])] = [
            ("1-element array", RESP.array([RESP.bulk("message")])),
            ("kind not a string", RESP.array([RESP.integer(1), RESP.bulk("revoked"), RESP.bulk("x")])),
            ("channel not a string", RESP.array([RESP.bulk("message"), RESP.integer(7), RESP.bulk("x")])),
            ("unsubscribe with a bulk count", RESP.array([RESP.bulk("unsubscribe"), RESP.bulk("revoked"), RESP.bulk("x")])),
            ("2-element message", RESP.array([RESP.bulk("message"), RESP.bulk("revoked")])),
            ("status reply", RESP.simple("OK")),
        ]
        for (i, (name, push)) in pushes.enumerated() {
            #expect(d.run { client.isSubscribed(channel: "revoked") }, "subscribed before push \(i)")
            guard let conn = pubsubConnection(fake) else { Issue.record("no SUBSCRIBE seen"); return }
            fake.push(push, connection: conn)
            #expect(d.run { client.protocolErrors == UInt64(i + 1) }, "\(name)")
            #expect(client.lastPubSubError?.contains("protocol error") == true, "\(name)")
        }
        // Recovered: a well-formed message arrives, and nothing malformed was delivered.
        #expect(d.run { client.isSubscribed(channel: "revoked") })
        if let conn = pubsubConnection(fake) {
            fake.push(RESP.array([RESP.bulk("message"), RESP.bulk("revoked"), RESP.bulk("d1")]), connection: conn)
        }
        #expect(d.run { received == ["d1"] })
        #expect(d.send(client, ["ECHO", "after"]) == .success(.string(Array("after".utf8))))
        let echoes = fake.commands.filter { $0.name == "ECHO" }.map(\.connection)
        #expect(echoes.count == 2 && echoes[0] == echoes[1], "the command connection never reconnected")
    }

    /// SUBSCRIBE answered with the wrong type: hiredis dropped two of these silently (the
    /// subscription never came, nothing retried it) and asserted on the third.
    @Test func wrongRepliesToSubscribeAreRetried() throws {
        let wrong = AnswerQueue([
            RESP.integer(1),
            RESP.simple("OK"),
            RESP.array([RESP.integer(1), RESP.bulk("revoked"), RESP.integer(1)]),
            RESP.array([RESP.bulk("subscribe"), RESP.bulk("another"), RESP.integer(1)]),
        ])
        let fake = try FakeRedis { cmd in
            if cmd.name == "SUBSCRIBE", let answer = wrong.next() { return answer }
            return FakeRedis.honest(cmd)
        }
        defer { fake.stop() }
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(fake.port))
        defer { client.close() }
        client.subscribe(channel: "revoked") { _ in }
        #expect(d.run(timeout: .seconds(5)) { client.isSubscribed(channel: "revoked") })
        #expect(client.protocolErrors == 4)
        #expect(fake.commands.filter { $0.name == "SUBSCRIBE" }.count == 5)
    }

    @Test func oversizedRepliesFailTheCommandAndTheConnectionRecovers() throws {
        let fake = try FakeRedis { cmd in
            switch cmd.args.last {
            case "big": RESP.bulk([UInt8](repeating: 120, count: 4096))
            case "huge-array": Array("*2000000000\r\n".utf8)
            default: FakeRedis.honest(cmd)
            }
        }
        defer { fake.stop() }
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(fake.port) { $0.maxReplyBytes = 1024 })
        defer { client.close() }
        #expect(d.send(client, ["GET", "big"]) == .failure(.unavailable))
        #expect(client.protocolErrors == 1)
        #expect(client.lastError?.contains("exceeds 1024 bytes") == true)
        #expect(d.sendUntilSuccess(client, ["GET", "small"]) == .null)
        #expect(d.send(client, ["GET", "huge-array"]) == .failure(.unavailable))
        #expect(client.protocolErrors == 2)
        #expect(d.sendUntilSuccess(client, ["PING"]) == .status("PONG"))
    }

    /// A server that answers every command twice keeps both connections flapping (never in a
    /// tight loop); once a real Redis takes over the port, both recover on their own.
    @Test func recoversWhenARealRedisTakesOver() throws {
        let fake = try FakeRedis { FakeRedis.honest($0) + RESP.simple("OK") }
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(fake.port))
        defer { client.close() }
        var received: [String] = []
        client.subscribe(channel: "ch") { received.append(String(decoding: $0, as: UTF8.self)) }
        client.start()
        #expect(d.run { client.protocolErrors >= 4 }, "both connections dropped, more than once")
        #expect(fake.connections < 40, "reconnects back off")

        let port = fake.port
        fake.stop()
        let real = try RedisServer(port: Int(port))
        #expect(d.sendUntilSuccess(client, ["SET", "k", "v"]) == .status("OK"))
        #expect(real.cli(["GET", "k"]) == "v")
        #expect(d.run { client.isSubscribed(channel: "ch") })
        #expect(real.cli(["PUBLISH", "ch", "hello"]) == "1")
        #expect(d.run { received == ["hello"] })
    }
}
