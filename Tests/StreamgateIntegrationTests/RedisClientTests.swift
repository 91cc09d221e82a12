import StreamgateCore
@testable import StreamgateIO
import Testing

/// Against a real redis-server started per test. Serialized: several tests measure time.
@Suite("RedisClient", .serialized)
struct RedisClientTests {
    private func config(_ server: RedisServer, _ change: (inout RedisClientConfig) -> Void = { _ in }) -> RedisClientConfig {
        var c = RedisClientConfig(host: "127.0.0.1", port: server.port,
                                  commandTimeout: .seconds(2), connectTimeout: .seconds(1))
        change(&c)
        return c
    }

    @Test func getSetHashNilAndErrorReplies() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server))
        defer { client.close() }

        #expect(d.send(client, ["SET", "k", "v1"]) == .success(.status("OK")))
        #expect(d.send(client, ["GET", "k"]) == .success(.string(Array("v1".utf8))))
        #expect(d.send(client, ["GET", "missing"]) == .success(.null))
        #expect(d.send(client, ["INCRBY", "n", "41"]) == .success(.integer(41)))
        #expect(d.send(client, ["HSET", "h", "a", "1", "b", "2"]) == .success(.integer(2)))
        guard case .success(.array(let items))? = d.send(client, ["HGETALL", "h"]) else {
            Issue.record("HGETALL did not return an array")
            return
        }
        #expect(items.count == 4)
        #expect(RedisReply.array(items).fieldMap == ["a": Array("1".utf8), "b": Array("2".utf8)])
        #expect(d.send(client, ["HGETALL", "nohash"]) == .success(.array([])))
        #expect(RedisReply.array([]).fieldMap == [:])
        #expect(RedisReply.array([.string([1])]).fieldMap == nil)
        guard case .success(.error(let wrongType))? = d.send(client, ["INCR", "h"]) else {
            Issue.record("INCR on a hash did not return an error reply")
            return
        }
        #expect(wrongType.hasPrefix("WRONGTYPE"))
        // An error reply leaves the connection usable.
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))
        #expect(client.isConnected)
        #expect(client.commandsSent == 9)
    }

    @Test func argumentsAreBinarySafe() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server))
        defer { client.close() }
        let value: [UInt8] = [0, 13, 10, 36, 255, 42, 0]
        var result: RedisResult?
        client.command(bytes: [Array("SET".utf8), Array("bin\0key".utf8), value]) { result = $0 }
        d.run { result != nil }
        #expect(result == .success(.status("OK")))
        result = nil
        client.command(bytes: [Array("GET".utf8), Array("bin\0key".utf8)]) { result = $0 }
        d.run { result != nil }
        #expect(result == .success(.string(value)))
        #expect(d.send(client, ["SET", "empty", ""]) == .success(.status("OK")))
        #expect(d.send(client, ["GET", "empty"]) == .success(.string([])))
        #expect(d.send(client, ["SET", "unicode", "ünï €"]) == .success(.status("OK")))
        #expect((try? d.send(client, ["GET", "unicode"])?.get())?.text == "ünï €")
    }

    @Test func emptyCommandIsAProtocolError() throws {
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: RedisClientConfig(port: 1))
        var result: RedisResult?
        client.command([]) { result = $0 }
        #expect(result == nil, "completion must not run inside command()")
        d.run { result != nil }
        #expect(result == .failure(.protocolError("empty command")))
    }

    @Test func authenticatesWithPassword() throws {
        let server = try RedisServer(password: "s3cret pass")
        let d = RedisLoopDriver()
        let good = RedisClient(loop: d.loop, config: config(server) { $0.password = "s3cret pass" })
        defer { good.close() }
        #expect(d.send(good, ["SET", "a", "1"]) == .success(.status("OK")))
        #expect(server.cli(["GET", "a"]) == "1")

        let bad = RedisClient(loop: d.loop, config: config(server) { $0.password = "hunter2-bad" })
        defer { bad.close() }
        #expect(d.send(bad, ["GET", "a"]) == .failure(.unavailable))
        #expect(!bad.isConnected)
        #expect(bad.lastError?.contains("WRONGPASS") == true)
        #expect(bad.lastError?.contains("hunter2") == false)

        // Without a password the handshake PING is refused, so commands never run unauthenticated.
        let none = RedisClient(loop: d.loop, config: config(server))
        defer { none.close() }
        #expect(d.send(none, ["GET", "a"]) == .failure(.unavailable))
        #expect(none.lastError?.contains("NOAUTH") == true)
    }

    @Test func authenticatesAsACLUser() throws {
        let server = try RedisServer()
        #expect(server.cli(["ACL", "SETUSER", "gateway", "on", ">gw-pass", "~sess:*", "+get", "+set", "+acl|whoami"]) == "OK")
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) {
            $0.username = "gateway"
            $0.password = "gw-pass"
        })
        defer { client.close() }
        #expect(d.send(client, ["ACL", "WHOAMI"]) == .success(.string(Array("gateway".utf8))))
        #expect(d.send(client, ["SET", "sess:1", "x"]) == .success(.status("OK")))
        // The user's ACL applies: other keys and commands are refused.
        guard case .success(.error(let e))? = d.send(client, ["SET", "other", "x"]) else {
            Issue.record("expected NOPERM")
            return
        }
        #expect(e.hasPrefix("NOPERM"))

        let wrongUser = RedisClient(loop: d.loop, config: config(server) {
            $0.username = "gateway"
            $0.password = "nope"
        })
        defer { wrongUser.close() }
        #expect(d.send(wrongUser, ["GET", "sess:1"]) == .failure(.unavailable))
    }

    @Test func selectsTheConfiguredDatabase() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.database = 3 })
        defer { client.close() }
        #expect(d.send(client, ["SET", "where", "db3"]) == .success(.status("OK")))
        #expect(server.cli(["GET", "where"], database: 3) == "db3")
        #expect(server.cli(["GET", "where"], database: 0) == "")

        let outOfRange = RedisClient(loop: d.loop, config: config(server) { $0.database = 99 })
        defer { outOfRange.close() }
        #expect(d.send(outOfRange, ["GET", "where"]) == .failure(.unavailable))
        #expect(outOfRange.lastError?.contains("DB index") == true)
    }

    @Test func commandTimesOutWhileRedisIsStopped() throws {
        let server = try RedisServer()
        defer { server.resume() }
        let d = RedisLoopDriver()
        let timeout = Duration.milliseconds(200)
        let client = RedisClient(loop: d.loop, config: config(server) {
            $0.commandTimeout = timeout
            $0.connectTimeout = .milliseconds(300)
        })
        defer { client.close() }
        #expect(d.send(client, ["SET", "k", "before"]) == .success(.status("OK")))

        server.pause()
        var calls = 0
        var result: RedisResult?
        let start = EventLoop.now()
        var elapsed = Duration.zero
        client.command(["GET", "k"]) {
            calls += 1
            result = $0
            elapsed = EventLoop.now().since(start)
        }
        d.run(timeout: .seconds(5)) { result != nil }
        #expect(result == .failure(.timeout))
        #expect(elapsed >= timeout)
        #expect(elapsed < timeout + .milliseconds(500))
        #expect(client.timeouts == 1)

        // While Redis stays stopped the client does not hang: every command ends in time.
        let second = EventLoop.now()
        let r2 = d.send(client, ["GET", "k"], timeout: .seconds(5))
        #expect(r2 == .failure(.timeout) || r2 == .failure(.unavailable))
        #expect(EventLoop.now().since(second) < timeout + .milliseconds(500))

        // The stalled connection is replaced; the new one cannot finish its handshake.
        #expect(d.run(timeout: .seconds(5)) { !client.isConnected && client.lastError?.contains("timed out") == true })

        server.resume()
        #expect(d.sendUntilSuccess(client, ["GET", "k"]) == .string(Array("before".utf8)))
        // Let any late reply arrive: the first completion must not run again.
        d.run(timeout: .milliseconds(100)) { false }
        #expect(calls == 1)
    }

    @Test func lateReplyIsDroppedAndTheConnectionKept() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.commandTimeout = .milliseconds(150) })
        defer { client.close() }
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))

        // The PING answered after the slow command was sent, so the server is alive: the
        // timeout is the command's, not the connection's. (BLPOP blocks only this client;
        // the server keeps flushing replies, unlike DEBUG SLEEP.)
        var ping: RedisResult?
        var slowCalls: [RedisResult] = []
        client.command(["PING"]) { ping = $0 }
        client.command(["BLPOP", "empty-list", "0.4"]) { slowCalls.append($0) }
        #expect(d.run { !slowCalls.isEmpty })
        #expect(ping == .success(.status("PONG")))
        #expect(slowCalls == [.failure(.timeout)])

        // The late nil reply arrives on the same connection and goes nowhere.
        #expect(d.run { client.pendingCommands == 0 })
        #expect(d.send(client, ["ECHO", "after"]) == .success(.string(Array("after".utf8))))
        #expect(slowCalls.count == 1)
        #expect(client.reconnects == 0)
        #expect(client.timeouts >= 1)
    }

    @Test func droppingTheClientFailsPendingCommands() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        var client: RedisClient? = RedisClient(loop: d.loop, config: config(server))
        #expect(d.send(client!, ["PING"]) == .success(.status("PONG")))
        var results: [RedisResult] = []
        for _ in 0..<3 { client!.command(["BLPOP", "never", "0"]) { results.append($0) } }
        client = nil
        #expect(d.run { results.count == 3 })
        #expect(results.allSatisfy { $0 == .failure(.unavailable) })
    }

    @Test func failsFastWhileRedisIsDown() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.commandTimeout = .seconds(5) })
        defer { client.close() }
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))
        server.kill()
        #expect(d.run(timeout: .seconds(5)) { !client.isConnected })

        var result: RedisResult?
        let start = EventLoop.now()
        client.command(["GET", "k"]) { result = $0 }
        #expect(result == nil, "completion must not run inside command()")
        d.run(timeout: .seconds(5)) { result != nil }
        #expect(result == .failure(.unavailable))
        #expect(EventLoop.now().since(start) < .milliseconds(500))
        #expect(client.timeouts == 0)
    }

    @Test func unavailableWhenNothingListens() throws {
        let server = try RedisServer()
        let port = server.port
        server.stop()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: RedisClientConfig(port: port, commandTimeout: .seconds(5)))
        defer { client.close() }
        let start = EventLoop.now()
        #expect(d.send(client, ["PING"]) == .failure(.unavailable))
        #expect(EventLoop.now().since(start) < .seconds(1))
        #expect(client.lastError != nil)
    }

    @Test func reconnectsAfterRestartWithoutANewClient() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.database = 2 })
        defer { client.close() }
        #expect(d.send(client, ["SET", "k", "one"]) == .success(.status("OK")))

        try server.restart()
        #expect(d.sendUntilSuccess(client, ["SET", "k", "two"]) == .status("OK"))
        #expect(client.isConnected)
        #expect(client.reconnects >= 1)
        // The database is selected again after the reconnect.
        #expect(server.cli(["GET", "k"], database: 2) == "two")
    }

    @Test func everyCommandCompletesExactlyOnceAcrossCrashes() throws {
        let server = try RedisServer(password: "pw")
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) {
            $0.password = "pw"
            $0.database = 1
            $0.commandTimeout = .milliseconds(300)
        })
        defer { client.close() }
        var counts: [Int] = []
        for round in 0..<8 {
            #expect(d.sendUntilSuccess(client, ["PING"]) == .status("PONG"), "round \(round)")
            let base = counts.count
            counts += Array(repeating: 0, count: 30)
            for i in 0..<30 {
                client.command(["INCR", "n"]) { _ in counts[base + i] += 1 }
            }
            // Crash in different phases: before the writes, while replies are in flight.
            if round % 2 == 0 {
                server.kill()
            } else {
                d.run(timeout: .seconds(2)) { counts[base] > 0 }
                server.kill()
            }
            #expect(d.run { counts[base...].allSatisfy { $0 > 0 } }, "round \(round)")
            try server.start()
        }
        #expect(d.sendUntilSuccess(client, ["PING"]) == .status("PONG"))
        #expect(counts.allSatisfy { $0 == 1 })
        #expect(client.reconnects >= 8)
        #expect(client.pendingCommands == 0)
    }

    @Test func queuedCommandsRunAfterTheHandshake() throws {
        let server = try RedisServer(password: "pw")
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) {
            $0.password = "pw"
            $0.database = 5
        })
        defer { client.close() }
        // Issued before the connection exists: they wait for AUTH and SELECT, in order.
        var results: [Int: RedisResult] = [:]
        for i in 0..<50 {
            client.command(["RPUSH", "list", String(i)]) { results[i] = $0 }
        }
        #expect(results.isEmpty)
        d.run { results.count == 50 }
        #expect(results[49] == .success(.integer(50)))
        #expect(server.cli(["LRANGE", "list", "0", "2"], database: 5) == "0\n1\n2")
    }

    @Test func commandsQueuedForAStuckHandshakeTimeOut() throws {
        let server = try RedisServer()
        defer { server.resume() }
        server.pause()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) {
            $0.commandTimeout = .milliseconds(100)
            $0.connectTimeout = .seconds(3)
            $0.maxPendingCommands = 2
        })
        defer { client.close() }
        // TCP connects (the kernel accepts for a stopped process) but PING gets no answer.
        var first: [RedisResult] = []
        for _ in 0..<2 { client.command(["PING"]) { first.append($0) } }
        #expect(d.run { first.count == 2 })
        #expect(first == [.failure(.timeout), .failure(.timeout)])
        #expect(client.pendingCommands == 0)
        // The slots are free again: the next command queues and times out, not "unavailable".
        #expect(d.send(client, ["PING"]) == .failure(.timeout))
    }

    @Test func pendingCommandsAreBounded() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.maxPendingCommands = 3 })
        defer { client.close() }
        var results: [RedisResult] = []
        for _ in 0..<5 { client.command(["PING"]) { results.append($0) } }
        d.run { results.count == 5 }
        #expect(results.filter { $0 == .success(.status("PONG")) }.count == 3)
        #expect(results.filter { $0 == .failure(.unavailable) }.count == 2)
    }

    @Test func closeFailsPendingCommandsExactlyOnce() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server))
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))
        var calls = 0
        var last: RedisResult?
        for _ in 0..<10 {
            client.command(["BLPOP", "nothing", "0"]) { calls += 1; last = $0 }
        }
        client.close()
        #expect(calls == 0, "completions must not run inside close()")
        d.run { calls == 10 }
        d.run(timeout: .milliseconds(50)) { false }
        #expect(calls == 10)
        #expect(last == .failure(.unavailable))
        #expect(d.send(client, ["PING"]) == .failure(.unavailable))
    }

    @Test func deliversPubSubMessagesAndResubscribesAfterRestart() throws {
        let server = try RedisServer(password: "pw")
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.password = "pw" })
        defer { client.close() }
        var received: [String] = []
        var confirmations = 0
        client.subscribe(channel: "revocations", onConfirmed: { confirmations += 1 }) {
            received.append(String(decoding: $0, as: UTF8.self))
        }
        #expect(d.run { client.isSubscribed(channel: "revocations") })
        #expect(confirmations == 1)
        // The subscriber connection does not block commands.
        #expect(d.send(client, ["SET", "k", "v"]) == .success(.status("OK")))

        #expect(server.cli(["PUBLISH", "revocations", "sess-1"]) == "1")
        #expect(server.cli(["PUBLISH", "other", "ignored"]) == "0")
        #expect(d.run { received == ["sess-1"] })

        let reconnectsBefore = client.reconnects
        try server.restart()
        #expect(d.run(timeout: .seconds(15)) { client.reconnects > reconnectsBefore && client.isSubscribed(channel: "revocations") })
        #expect(confirmations == 2, "confirmed again after the reconnect")
        #expect(server.cli(["PUBLISH", "revocations", "sess-2"]) == "1")
        #expect(d.run { received == ["sess-1", "sess-2"] })

        // A second channel added while connected is subscribed at once.
        var other: [[UInt8]] = []
        client.subscribe(channel: "bin") { other.append($0) }
        #expect(d.run { client.isSubscribed(channel: "bin") })
        server.cli(["PUBLISH", "bin", "x"])
        #expect(d.run { other == [Array("x".utf8)] })
    }

    /// `localhost` resolves to `::1` first on Debian 12, and the test server listens on
    /// 127.0.0.1 only: the client must go on to the next address.
    @Test func resolvesHostNamesOnceAtStart() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let client = RedisClient(loop: d.loop, config: config(server) { $0.host = "localhost" })
        defer { client.close() }
        #expect(client.addresses.contains { $0.ipString == "127.0.0.1" })
        #expect(d.sendUntilSuccess(client, ["PING"]) == .status("PONG"))

        let bogus = RedisClient(loop: d.loop, config: config(server) { $0.host = "no-such-host.invalid" })
        defer { bogus.close() }
        #expect(d.send(bogus, ["PING"]) == .failure(.unavailable))
        #expect(bogus.lastError?.contains("no-such-host.invalid") == true)
    }

    @Test func triesEveryAddressInOrderUntilOneConnects() throws {
        let server = try RedisServer()
        let d = RedisLoopDriver()
        let refused = try SocketAddress.resolve("127.0.0.1:\(unusedPort())")
        let good = try SocketAddress.resolve("127.0.0.1:\(server.port)")
        let client = RedisClient(loop: d.loop, config: config(server), addresses: [refused, good])
        defer { client.close() }
        #expect(d.send(client, ["PING"]) == .success(.status("PONG")))
        #expect(client.reconnects == 0, "one pass over the addresses is one attempt")
        // After a lost connection the next pass starts over and finds the same address.
        try server.restart()
        #expect(d.sendUntilSuccess(client, ["SET", "k", "v"]) == .status("OK"))
        #expect(client.reconnects >= 1)

        let otherRefused = try SocketAddress.resolve("127.0.0.1:\(unusedPort())")
        let none = RedisClient(loop: d.loop, config: config(server), addresses: [refused, otherRefused])
        defer { none.close() }
        #expect(d.send(none, ["PING"]) == .failure(.unavailable))
        let why = none.lastError ?? ""
        #expect(why.contains(refused.description) && why.contains(otherRefused.description), "names every address tried: \(why)")
    }

    @Test func resolveAllKeepsEveryAddressOnce() throws {
        let local = try SocketAddress.resolveAll(host: "localhost", port: 6379)
        #expect(local.contains { $0.description == "127.0.0.1:6379" })
        #expect(Set(local.map(\.description)).count == local.count, "no duplicates")
        #expect(try SocketAddress.resolveAll(host: "127.0.0.1", port: 1).map(\.description) == ["127.0.0.1:1"])
        #expect(try SocketAddress.resolveAll(host: "::1", port: 2).map(\.description) == ["[::1]:2"])
        #expect(try SocketAddress.resolveAll("[::1]:3").map(\.description) == ["[::1]:3"])
        #expect(throws: SocketAddressError.self) { try SocketAddress.resolveAll(host: "no-such-host.invalid", port: 1) }
        #expect(throws: SocketAddressError.self) { try SocketAddress.resolveAll("no-port") }
    }
}
