/// Where and how a `RedisClient` connects. Plain values, so it can cross threads (config reloads).
public struct RedisClientConfig: Sendable, Equatable {
    /// Host name or IP literal. A name is resolved once, when the client is created (a blocking
    /// `getaddrinfo` must never run on a loop at runtime); every address it resolves to is
    /// kept and tried in order on each connect.
    public var host: String
    public var port: Int
    /// ACL user (Redis 6+). With `nil`, `AUTH` sends only the password (the `default` user).
    public var username: String?
    public var password: String?
    /// Database selected on every (re)connect before any command runs.
    public var database: Int
    /// Per-command deadline, from `command()` until the reply. hiredis 0.14 has no timeouts.
    public var commandTimeout: Duration
    /// Deadline for TCP connect plus the AUTH/SELECT handshake.
    public var connectTimeout: Duration
    /// Commands waiting for the handshake plus commands awaiting a reply. Past it, new commands
    /// fail with `.unavailable` instead of growing memory while Redis is slow.
    public var maxPendingCommands: Int
    /// Largest reply accepted, in bytes on the wire. A bigger one is a protocol error: the
    /// connection is dropped (and its commands fail) rather than buffering without bound.
    public var maxReplyBytes: Int

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        commandTimeout: Duration = .milliseconds(250),
        connectTimeout: Duration = .seconds(1),
        maxPendingCommands: Int = 4096,
        maxReplyBytes: Int = 1 << 20
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.maxPendingCommands = maxPendingCommands
        self.maxReplyBytes = maxReplyBytes
    }

    /// Parses the `[redis] url` form: `redis://[[user]:password@]host[:port][/db]`.
    /// User and password may be percent-encoded. Errors never echo the password.
    public init(url: String, commandTimeout: Duration = .milliseconds(250), connectTimeout: Duration = .seconds(1)) throws(RedisConfigError) {
        let scheme = "redis://"
        guard url.lowercased().hasPrefix(scheme) else { throw .invalidURL("must start with redis://") }
        var rest = Substring(url.dropFirst(scheme.count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let u = userinfo[..<colon]
                guard let user = Self.percentDecode(u), let pass = Self.percentDecode(userinfo[userinfo.index(after: colon)...]) else {
                    throw .invalidURL("bad percent-encoding in credentials")
                }
                username = user.isEmpty ? nil : user
                password = pass
            } else {
                // `redis://secret@host` is the common password-only shorthand.
                guard let pass = Self.percentDecode(userinfo) else { throw .invalidURL("bad percent-encoding in credentials") }
                password = pass
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw .invalidURL("database must be a non-negative integer") }
                database = n
            }
        }
        var host: Substring
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidURL("unterminated IPv6 literal") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw .invalidURL("bad port") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else { throw .invalidURL("bad port") }
            port = p
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw .invalidURL("missing host") }
        guard (1...65535).contains(port) else { throw .invalidURL("port out of range") }
        self.init(host: String(host), port: port, username: username, password: password, database: database,
                  commandTimeout: commandTimeout, connectTimeout: connectTimeout)
    }

    private static func percentDecode(_ s: Substring) -> String? {
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hex(it.popFirst()!), let lo = hex(it.popFirst()!) else { return nil }
                out.append(hi << 4 | lo)
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A `[redis]` setting that cannot work.
public enum RedisConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    public var description: String {
        switch self {
        case .invalidURL(let why): "invalid redis url: \(why)"
        }
    }
}
