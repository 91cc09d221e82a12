import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `streamgate session create|revoke` as an operator runs them: the real binary against a
/// real redis-server, with a real `streamgate run` and the real demo upstream behind it.
/// Serialized: each test runs four processes on two shared cores.
@Suite(.serialized) struct SessionCLITests {
    @Test func createdTokenAuthenticatesAndTheUpstreamSeesItsIdentity() throws {
        let rig = try SessionCLIRig()
        let r = try rig.session(["create", "--tenant", "acme", "--user", "u-42", "--scope", "events:read", "--scope", "events:write",
                                 "--ttl", "1h"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        let token = String(r.stdout.dropLast())
        #expect(r.stdout == token + "\n", "stdout is the token and nothing else")
        #expect(token.hasPrefix("sg_") && token.count == 3 + 43, "\(token)")
        #expect(token.dropFirst(3).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(!r.stderr.contains(token), "the token is printed on stdout only")
        #expect(r.stderr.contains("user \"u-42\", tenant \"acme\""), "\(r.stderr)")

        // Stored as the gateway reads it: a hash at session:<sha256>, with expiry twice over.
        let key = sessionKey(token)
        #expect(rig.redis.cli(["HGET", key, "user_id"]) == "u-42")
        #expect(rig.redis.cli(["HGET", key, "tenant_id"]) == "acme")
        #expect(rig.redis.cli(["HGET", key, "scopes"]) == "events:read events:write")
        #expect(rig.redis.cli(["HGET", key, "kind"]) == "session")
        let expiresAt = Int(rig.redis.cli(["HGET", key, "expires_at"])) ?? 0
        let now = Int(Date().timeIntervalSince1970)
        #expect(abs(expiresAt - (now + 3600)) <= 5, "expires_at \(expiresAt), now \(now)")
        let ttl = Int(rig.redis.cli(["TTL", key])) ?? 0
        #expect(ttl > 3590 && ttl <= 3600, "TTL \(ttl)")

        // Through the gateway, by header and by query: the upstream's events show the
        // identity the gateway injected, and the query token never reaches it.
        let byHeader = try rig.stream("/v1/tenants/acme/events", ["Authorization: Bearer \(token)"])
        #expect(byHeader.status == 200)
        let event = try SessionCLIRig.firstEventData(byHeader)
        let headers = event["headers"] as? [String: Any]
        #expect(headers?["X-Auth-User-Id"] as? String == "u-42")
        #expect(headers?["X-Auth-Tenant-Id"] as? String == "acme")
        #expect(headers?["X-Auth-Scopes"] as? String == "events:read events:write")
        // The key's TTL, rounded down, counts too: the header may say a second earlier.
        let shownExpiry = Int(headers?["X-Auth-Expires-At"] as? String ?? "") ?? 0
        #expect(shownExpiry == expiresAt || shownExpiry == expiresAt - 1, "\(shownExpiry) vs \(expiresAt)")
        #expect(event["tenant"] as? String == "acme")

        let byQuery = try rig.stream("/v1/tenants/acme/events?access_token=\(token)")
        #expect(byQuery.status == 200)
        let queryEvent = try SessionCLIRig.firstEventData(byQuery)
        #expect((queryEvent["headers"] as? [String: Any])?["X-Auth-User-Id"] as? String == "u-42")
        #expect(queryEvent["target"] as? String == "/v1/tenants/acme/events", "the token is stripped from the target")

        #expect(try rig.get("/v1/tenants/globex/events", ["Authorization: Bearer \(token)"]).status == 403)
        #expect(try rig.get("/v1/tenants/acme/events").status == 401)
        #expect(try rig.get("/v1/tenants/acme/events", ["Authorization: Bearer \(token)x"]).status == 401)
        rig.stopGateway()
        #expect(!rig.gatewayOutput.contains(token), "no gateway log line carries the token")
    }

    @Test func revokeEndsTheOpenStreamAndTheNextRequestIs401() throws {
        let rig = try SessionCLIRig()
        let token = try rig.createSession(tenant: "acme", user: "u-1", scopes: ["events:read"])
        let s = try rig.stream("/v1/tenants/acme/events", ["Authorization: Bearer \(token)"])
        #expect(s.status == 200)
        _ = try SessionCLIRig.firstEventData(s)
        try rig.redis.waitForSubscribers()

        let r = try rig.session(["revoke", token])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(!r.stderr.contains(token))
        #expect(r.stderr.contains("deleted the session record"), "\(r.stderr)")
        #expect(r.stderr.contains("to 1 subscriber"), "\(r.stderr)")
        #expect(s.waitForEnd(timeout: 3), "the open stream ends (ended \(s.ended), closed \(s.closed))")
        #expect(s.body.hasSuffix("\n\n"), "at an event boundary")
        #expect(rig.redis.cli(["EXISTS", sessionKey(token)]) == "0")
        #expect(try rig.get("/v1/tenants/acme/events", ["Authorization: Bearer \(token)"]).status == 401)

        // Revoking again is harmless, and says there was nothing left to delete.
        let again = try rig.session(["revoke", token])
        #expect(again.code == 0)
        #expect(again.stderr.contains("no session record was stored"), "\(again.stderr)")
    }

    /// A config with its own key template (raw token), JSON records, field names, channel and
    /// identity header: create and revoke follow it, and the demo upstream shows the renamed
    /// header when told its name.
    @Test func createAndRevokeFollowTheConfiguredKeyFormatFieldsAndChannel() throws {
        let rig = try SessionCLIRig(
            sessions: """
                key = "sg:{token}:session"
                format = "json"
                revocation_channel = "custom:revoked"
                [sessions.fields]
                user = "uid"
                tenant = "org"
                expires_at = "exp"
                kind = "type"
                scopes = "perm"
                """,
            identity: "[identity]\nuser_header = \"X-Demo-User\"",
            upstreamArguments: ["--identity-header", "X-Demo-User", "--identity-header", "X-Auth-Tenant-Id"])
        let token = randomToken("given")
        let r = try rig.session(["create", "--token", token, "--tenant", "initech", "--user", "u-7", "--scope", "events:read", "--ttl", "0"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == token + "\n")
        #expect(!r.stderr.contains(token), "the key holds the token, so it is not shown: \(r.stderr)")
        #expect(r.stderr.contains("never expires"))
        let key = "sg:\(token):session"
        #expect(rig.redis.cli(["GET", key]) == #"{"uid":"u-7","org":"initech","type":"session","perm":["events:read"]}"#)
        #expect(rig.redis.cli(["TTL", key]) == "-1", "--ttl 0: no expiry")

        let s = try rig.stream("/v1/tenants/initech/events", ["Authorization: Bearer \(token)"])
        #expect(s.status == 200)
        let event = try SessionCLIRig.firstEventData(s)
        let headers = event["headers"] as? [String: Any]
        #expect(headers?["X-Demo-User"] as? String == "u-7")
        #expect(headers?["X-Auth-Tenant-Id"] as? String == "initech")
        #expect(headers?.count == 2, "exactly the headers named on the upstream's command line")

        // The digest alone cannot name a key that holds the raw token.
        let byDigest = try rig.session(["revoke", "--digest", TestCrypto.sha256Hex(token)])
        #expect(byDigest.code == 1)
        #expect(byDigest.stderr.contains("needs the token itself"), "\(byDigest.stderr)")

        try rig.redis.waitForSubscribers("custom:revoked")
        let revoke = try CLIChild.run("/bin/sh", ["-c", "printf '%s\\n' \"$0\" | \"$1\" session revoke -c \"$2\" -",
                                                  token, CLIChild.binary("streamgate"), rig.configPath])
        #expect(revoke.code == 0, "stderr: \(revoke.stderr)")
        #expect(revoke.stderr.contains("on \"custom:revoked\" to 1 subscriber"), "\(revoke.stderr)")
        #expect(s.waitForEnd(timeout: 3), "the stream ends (ended \(s.ended), closed \(s.closed))")
        #expect(rig.redis.cli(["EXISTS", key]) == "0")
    }

    /// Re-using a token replaces its record: no field of the old one survives.
    @Test func createWithAnExistingTokenReplacesTheWholeRecord() throws {
        let rig = try SessionCLIRig()
        let token = randomToken()
        let first = try rig.session(["create", "--token", token, "--tenant", "t", "--user", "u", "--scope", "a",
                                     "--origin", "https://app.example.com", "--kind", "api_key"])
        #expect(first.code == 0, "stderr: \(first.stderr)")
        #expect(rig.redis.cli(["HGET", sessionKey(token), "allowed_origins"]) == "https://app.example.com")
        #expect(rig.redis.cli(["HGET", sessionKey(token), "kind"]) == "api_key")
        let second = try rig.session(["create", "--token", token, "--tenant", "t2", "--user", "u2", "--ttl", "0"])
        #expect(second.code == 0, "stderr: \(second.stderr)")
        let fields = rig.redis.cli(["HGETALL", sessionKey(token)]).split(separator: "\n").map(String.init)
        #expect(fields == ["user_id", "u2", "tenant_id", "t2", "kind", "session"])
        #expect(rig.redis.cli(["TTL", sessionKey(token)]) == "-1")
    }

    @Test func passwordAndDatabaseOfTheRedisURLAreUsedAndNeverPrinted() throws {
        let redis = try RedisServer(password: "pw-5ecret")
        let dir = try CLITempDir()
        let good = try dir.write("good.toml", SessionCLIRig.config(redisURL: "redis://:pw-5ecret@127.0.0.1:\(redis.port)/2",
                                                                     gatewayPort: 1, upstreamPort: 1))
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["session", "create", "-c", good, "--tenant", "t", "--user", "u"])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        let key = sessionKey(String(r.stdout.dropLast()))
        #expect(redis.cli(["EXISTS", key], database: 2) == "1", "written to the URL's database")
        #expect(redis.cli(["EXISTS", key], database: 0) == "0")
        #expect(!r.stderr.contains("pw-5ecret"))
        #expect(r.stderr.contains("redis://:***@127.0.0.1:\(redis.port)/2"), "\(r.stderr)")

        let bad = try dir.write("bad.toml", SessionCLIRig.config(redisURL: "redis://:wrong-pw@127.0.0.1:\(redis.port)/2",
                                                                   gatewayPort: 1, upstreamPort: 1))
        let refused = try CLIChild.run(CLIChild.binary("streamgate"), ["session", "create", "-c", bad, "--tenant", "t", "--user", "u"])
        #expect(refused.code == 1)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.contains("cannot reach Redis at redis://:***@127.0.0.1:\(redis.port)/2"), "\(refused.stderr)")
        #expect(refused.stderr.contains("handshake rejected"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("wrong-pw"))
    }

    @Test func unreachableRedisFailsWithAClearMessageAndNothingOnStdout() throws {
        let port = try freeLoopbackPort()  // nothing listens there
        let dir = try CLITempDir()
        let path = try dir.write("gw.toml", SessionCLIRig.config(redisURL: "redis://127.0.0.1:\(port)/0", gatewayPort: 1, upstreamPort: 1))
        let create = try CLIChild.run(CLIChild.binary("streamgate"), ["session", "create", "-c", path, "--tenant", "t", "--user", "u"])
        #expect(create.code == 1)
        #expect(create.stdout.isEmpty, "TOKEN=$(...) gets nothing")
        #expect(create.stderr.contains("streamgate session create: error: cannot reach Redis at redis://127.0.0.1:\(port)/0"), "\(create.stderr)")
        #expect(create.stderr.contains("refused"), "\(create.stderr)")

        let revoke = try CLIChild.run(CLIChild.binary("streamgate"), ["session", "revoke", "-c", path, randomToken()])
        #expect(revoke.code == 1)
        #expect(revoke.stderr.contains("cannot reach Redis at redis://127.0.0.1:\(port)/0"), "\(revoke.stderr)")
    }

    @Test func badInputIsRefusedBeforeAnythingIsWritten() throws {
        let redis = try RedisServer()
        let dir = try CLITempDir()
        let path = try dir.write("gw.toml", SessionCLIRig.config(redisURL: "redis://127.0.0.1:\(redis.port)/0", gatewayPort: 1, upstreamPort: 1))
        let streamgate = try CLIChild.binary("streamgate")
        func run(_ args: [String]) throws -> CLIChild.Result { try CLIChild.run(streamgate, ["session"] + args) }

        // (arguments, exit code, a fragment of stderr)
        let cases: [([String], Int32, String)] = [
            (["create", "-c", path, "--user", "u"], 64, "--tenant"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--ttl", "soon"], 64, "--ttl"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--ttl", "500ms"], 64, "--ttl"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--kind", "admin"], 64, "--kind"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--token", "has space"], 1, "--token: not a bearer token"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--scope", "a\"b"], 1, "--scope"),
            (["create", "-c", path, "--tenant", "t", "--user", "u", "--origin", "app.example.com"], 1, "--origin"),
            (["create", "-c", path, "--tenant", " t", "--user", "u"], 1, "--tenant"),
            (["create", "-c", dir.path + "/missing.toml", "--tenant", "t", "--user", "u"], 1, dir.path + "/missing.toml: "),
            (["revoke", "-c", path], 64, "give either the token or --digest"),
            (["revoke", "-c", path, "--digest", "abc"], 1, "--digest: expected 64 hex digits"),
        ]
        for (args, code, fragment) in cases {
            let r = try run(args)
            #expect(r.code == code, "\(args): stderr \(r.stderr)")
            #expect(r.stderr.contains(fragment), "\(args): stderr \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
        }
        #expect(!(try run(["create", "-c", path, "--tenant", "t", "--user", "u", "--token", "has space"]).stderr.contains("has space")),
                "a refused token is not echoed")
        #expect(redis.cli(["DBSIZE"]) == "0", "nothing was written")

        let noRedis = try dir.write("plain.toml", """
            [[listeners]]
            address = "127.0.0.1:1"
            [upstreams.demo]
            targets = ["127.0.0.1:1"]
            [[routes]]
            name = "all"
            path_prefix = "/"
            upstream = "demo"
            """)
        let r = try run(["create", "-c", noRedis, "--tenant", "t", "--user", "u"])
        #expect(r.code == 1)
        #expect(r.stderr.contains("has no [redis] table"), "\(r.stderr)")
    }
}

/// redis-server, the demo upstream and `streamgate run` with an authenticated tenant route,
/// all on ports picked at run time; `session(...)` runs the CLI against the same config file.
final class SessionCLIRig {
    let dir: CLITempDir
    let redis: RedisServer
    let upstream: CLIDemoUpstream
    let gateway: CLIChild
    let port: UInt16
    let configPath: String

    init(sessions: String = "", identity: String = "", upstreamArguments: [String] = []) throws {
        dir = try CLITempDir()
        redis = try RedisServer()
        upstream = try CLIDemoUpstream(arguments: upstreamArguments)
        configPath = dir.path + "/gateway.toml"
        var lastError = ""
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            try Self.config(redisURL: "redis://127.0.0.1:\(redis.port)/0", gatewayPort: port, upstreamPort: upstream.port,
                            sessions: sessions, identity: identity, accessLog: dir.path + "/access.log")
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let child = try CLIChild(CLIChild.binary("streamgate"), ["run", "--config", configPath], outputDir: dir.path)
            if child.startedListening(on: port) {
                gateway = child
                self.port = port
                return
            }
            lastError = child.stderr
        }
        throw TestError("streamgate run did not start listening: \(lastError)")
    }

    deinit { stopGateway() }

    func stopGateway() {
        gateway.signal(SIGTERM)
        gateway.waitForExit(timeout: 10)
    }

    /// Everything the gateway wrote: stderr and the access log.
    var gatewayOutput: String {
        gateway.stderr + gateway.stdout + ((try? String(contentsOfFile: dir.path + "/access.log", encoding: .utf8)) ?? "")
    }

    static func config(redisURL: String, gatewayPort: UInt16, upstreamPort: UInt16, sessions: String = "", identity: String = "",
                       accessLog: String = "off") -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "2s"
        access_log = "\(accessLog)"

        [[listeners]]
        address = "127.0.0.1:\(gatewayPort)"

        [redis]
        url = "\(redisURL)"
        timeout = "1s"

        [sessions]
        \(sessions)

        \(identity)

        [upstreams.demo]
        targets = ["127.0.0.1:\(upstreamPort)"]
        connect_timeout = "1s"

        [[routes]]
        name = "tenant-events"
        path = "/v1/tenants/{tenant}/events"
        methods = ["GET"]
        upstream = "demo"
        auth = "required"
        query_token = true
        tenant_param = "tenant"
        scopes = ["events:read"]
        """
    }

    /// `streamgate session <args> -c <this config>`.
    func session(_ args: [String]) throws -> CLIChild.Result {
        try CLIChild.run(CLIChild.binary("streamgate"), ["session"] + args + ["-c", configPath])
    }

    func createSession(tenant: String, user: String, scopes: [String]) throws -> String {
        let r = try session(["create", "--tenant", tenant, "--user", user] + scopes.flatMap { ["--scope", $0] })
        guard r.code == 0, r.stdout.hasSuffix("\n") else { throw TestError("session create failed: \(r.stderr)") }
        return String(r.stdout.dropLast())
    }

    func get(_ target: String, _ headers: [String] = []) throws -> HTTPTestResponse {
        let c = try RawClient(port: port)
        c.send(AuthRig.requestText(target: target, headers: headers))
        return try c.readResponse()
    }

    func stream(_ target: String, _ headers: [String] = []) throws -> EventStreamReader {
        let c = try RawClient(port: port)
        c.send(AuthRig.requestText(target: target, headers: headers))
        return try EventStreamReader(client: c)
    }

    /// The JSON `data:` of the stream's first whole event.
    static func firstEventData(_ s: EventStreamReader) throws -> [String: Any] {
        guard s.wait(timeout: 5, until: { $0.body.contains("\n\n") }) else { throw TestError("no event arrived: \(s.body.debugDescription)") }
        let event = s.body.components(separatedBy: "\n\n")[0]
        guard let line = event.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] else {
            throw TestError("no JSON data line in \(event.debugDescription)")
        }
        return object
    }
}
