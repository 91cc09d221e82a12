import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real redis-server, a recording upstream and an in-process gateway whose config points
/// at both: the setup of every authentication test.
final class AuthRig {
    let redis: RedisServer
    let upstream: RecordingUpstream
    let gateway: GatewayHarness

    /// - Parameters:
    ///   - redisExtra: more `[redis]` keys (the url and a timeout are given).
    ///   - sessions: `[sessions]` keys.
    ///   - sections: whole extra tables (`[identity]`, `[auth]`, ...).
    ///   - routes: `[[routes]]` tables; all use upstream `up`.
    ///   - admin: start the admin endpoint (`gateway.adminPort`).
    init(workers: Int = 1, redisTimeout: String = "1s", redisExtra: String = "", sessions: String = "", sections: String = "",
         routes: String = AuthRig.standardRoutes, upstreamHandler: RecordingUpstream.Handler? = nil, admin: Bool = false) throws {
        redis = try RedisServer()
        upstream = try RecordingUpstream(handler: upstreamHandler)
        gateway = try GatewayHarness(toml: Self.config(workers: workers, redisPort: redis.port, redisTimeout: redisTimeout, redisExtra: redisExtra,
                                                      sessions: sessions, sections: sections, upstreamPort: upstream.port, routes: routes),
                                     workers: workers, admin: admin)
        self.workers = workers
        self.redisTimeout = redisTimeout
        self.redisExtra = redisExtra
        self.sections = sections
        self.routes = routes
    }

    private let workers: Int
    private let redisTimeout: String
    private let redisExtra: String
    private let sections: String
    private let routes: String

    /// Reloads the gateway (as SIGHUP does) with the same config but these `[sessions]` keys.
    func reload(sessions: String) throws {
        try gateway.reload(toml: Self.config(workers: workers, redisPort: redis.port, redisTimeout: redisTimeout, redisExtra: redisExtra,
                                             sessions: sessions, sections: sections, upstreamPort: upstream.port, routes: routes))
    }

    static func config(workers: Int, redisPort: Int, redisTimeout: String, redisExtra: String, sessions: String, sections: String,
                       upstreamPort: UInt16, routes: String) -> String {
        """
            [gateway]
            workers = \(workers)
            drain_timeout = "1s"

            [redis]
            url = "redis://127.0.0.1:\(redisPort)/0"
            timeout = "\(redisTimeout)"
            \(redisExtra)

            [sessions]
            \(sessions)

            \(sections)

            [upstreams.up]
            targets = ["127.0.0.1:\(upstreamPort)"]
            connect_timeout = "1s"
            read_timeout = "5s"

            \(routes)
            """
    }

    deinit {
        gateway.stop()
        upstream.stop()
        redis.stop()
    }

    /// One request on a fresh connection; `headers` are complete `Name: value` lines.
    func get(_ target: String, _ headers: [String] = [], method: String = "GET") throws -> HTTPTestResponse {
        let c = try gateway.client()
        c.send(Self.requestText(method: method, target: target, headers: headers))
        return try c.readResponse()
    }

    static func requestText(method: String = "GET", target: String, headers: [String]) -> String {
        "\(method) \(target) HTTP/1.1\r\nHost: gw.test\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    /// Opens an event stream and reads its response head.
    func stream(_ target: String, _ headers: [String] = []) throws -> EventStreamReader {
        let c = try gateway.client()
        c.send(Self.requestText(target: target, headers: headers))
        return try EventStreamReader(client: c)
    }

    /// How many HGETALLs Redis has executed (the session lookups).
    var hgetallCalls: Int { redis.commandCalls("hgetall") }

    /// The last request the upstream saw.
    func lastUpstreamRequest() throws -> RecordingUpstream.Request {
        guard let r = upstream.requests.last else { throw TestError("the upstream saw no request") }
        return r
    }

    /// Routes every auth test can use; `path_prefix` routes forward the path unchanged.
    static let standardRoutes = """
        [[routes]]
        name = "query"
        path_prefix = "/q/"
        upstream = "up"
        query_token = true

        [[routes]]
        name = "scoped"
        path_prefix = "/scoped/"
        upstream = "up"
        scopes = ["events:read"]

        [[routes]]
        name = "tenant"
        path = "/v1/tenants/{tenant}/events"
        upstream = "up"
        tenant_param = "tenant"

        [[routes]]
        name = "session-cors"
        path_prefix = "/sc/"
        upstream = "up"
        query_token = true
        cors_origins = "session"

        [[routes]]
        name = "list-cors"
        path_prefix = "/lc/"
        upstream = "up"
        query_token = true
        cors_origins = ["http://app.test:8080"]

        [[routes]]
        name = "forward"
        path_prefix = "/fwd/"
        upstream = "up"
        forward_authorization = true

        [[routes]]
        name = "open"
        path_prefix = "/open/"
        upstream = "up"
        auth = "none"

        [[routes]]
        name = "optional"
        path_prefix = "/opt/"
        upstream = "up"
        auth = "optional"

        [[routes]]
        name = "ending"
        path_prefix = "/end/"
        upstream = "up"
        session_end_event = "session-expired"

        [[routes]]
        name = "all"
        path_prefix = "/"
        upstream = "up"
        """
}

/// `session:<hex sha256(token)>`, the default key template.
func sessionKey(_ token: String) -> String { "session:" + TestCrypto.sha256Hex(token) }

/// A random token of b64token characters.
func randomToken(_ prefix: String = "tok") -> String {
    prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
}

extension RedisServer {
    /// Writes a session hash for `token`. `expiresAt` is written as given (unix seconds or
    /// RFC 3339); nil leaves the field out.
    func putSession(_ token: String, user: String = "u1", tenant: String = "t1", expiresAt: String? = nil,
                    kind: String? = nil, scopes: String? = nil, origins: String? = nil, pexpireMilliseconds: Int? = nil) {
        var args = ["HSET", sessionKey(token), "user_id", user, "tenant_id", tenant]
        if let expiresAt { args += ["expires_at", expiresAt] }
        if let kind { args += ["kind", kind] }
        if let scopes { args += ["scopes", scopes] }
        if let origins { args += ["allowed_origins", origins] }
        cli(args)
        if let pexpireMilliseconds { cli(["PEXPIRE", sessionKey(token), String(pexpireMilliseconds)]) }
    }

    /// `calls` of `cmdstat_<command>` in `INFO commandstats` (0 when never called).
    func commandCalls(_ command: String) -> Int {
        let info = cli(["INFO", "commandstats"])
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_\(command.lowercased()):") {
            for part in line.split(separator: ":", maxSplits: 1)[1].split(separator: ",") where part.hasPrefix("calls=") {
                return Int(part.dropFirst(6)) ?? -1
            }
        }
        return 0
    }

    /// Waits (bounded polling: there is no event to wait on) until `channel` has `count` subscribers.
    func waitForSubscribers(_ channel: String = "streamgate:revoked", count: Int = 1, timeout: Double = 5) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let out = cli(["PUBSUB", "NUMSUB", channel]).split(whereSeparator: \.isNewline)
            if out.count == 2, let n = Int(out[1]), n >= count { return }
            usleep(10_000)
        }
        throw TestError("\(channel) never got \(count) subscriber(s)")
    }

    /// `PUBLISH streamgate:revoked <hex sha256(token)>`; returns the receiver count.
    @discardableResult
    func revoke(_ token: String, channel: String = "streamgate:revoked") -> Int {
        Int(cli(["PUBLISH", channel, TestCrypto.sha256Hex(token)])) ?? -1
    }
}

/// Reads a chunked event-stream response incrementally: the head first, then decoded chunk
/// payloads as they arrive, so a test can wait for events and for the terminating chunk.
final class EventStreamReader {
    let client: RawClient
    let status: Int
    let headers: [(String, String)]
    /// The decoded body so far.
    private(set) var body = ""
    /// The terminating zero-size chunk has arrived.
    private(set) var ended = false
    /// The connection was closed (EOF or reset) by the gateway.
    private(set) var closed = false
    private var payload: [UInt8] = []

    init(client: RawClient, timeout: Double = 5) throws {
        self.client = client
        client.setTimeout(timeout)
        let head = try client.readHead()
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
        headers = lines.compactMap { l in
            guard let c = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        decode()
    }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    /// Complete events received (each ends with a blank line).
    var eventCount: Int { body.components(separatedBy: "\n\n").count - 1 }
    /// `data:` lines of the received `tick` events.
    var ticks: Int { body.components(separatedBy: "data: tick ").count - 1 }

    /// Reads until `condition` holds or `timeout` passes; returns whether it held.
    @discardableResult
    func wait(timeout: Double, until condition: (EventStreamReader) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        client.setTimeout(0.05)
        defer { client.setTimeout(5) }
        while !condition(self) {
            if closed || Date() >= deadline { return condition(self) }
            let n = client.readSome()
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { closed = true }
            decode()
        }
        return true
    }

    /// Waits for `n` more `tick` events than have arrived so far.
    func waitForMoreTicks(_ n: Int, timeout: Double = 3) throws {
        let target = ticks + n
        guard wait(timeout: timeout, until: { $0.ticks >= target }) else {
            throw TestError("only \(ticks) of \(target) events arrived (ended: \(ended), closed: \(closed))")
        }
    }

    /// Waits for the terminating chunk and then the close.
    func waitForEnd(timeout: Double) -> Bool {
        wait(timeout: timeout) { $0.ended && $0.closed }
    }

    private func decode() {
        while !ended {
            let buf = client.buffer
            guard let lineEnd = HTTPTestResponse.find(buf, [13, 10], from: 0) else { return }
            let sizeText = String(decoding: buf[0..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText, radix: 16) else { return }
            if size == 0 {
                guard buf.count >= lineEnd + 4 else { return }
                client.buffer.removeFirst(lineEnd + 4)
                ended = true
                return
            }
            guard buf.count >= lineEnd + 2 + size + 2 else { return }
            payload += buf[(lineEnd + 2)..<(lineEnd + 2 + size)]
            client.buffer.removeFirst(lineEnd + 2 + size + 2)
            body = String(decoding: payload, as: UTF8.self)
        }
    }
}
