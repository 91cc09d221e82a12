/// `[redis]`: the session store. Its presence is what makes `auth = "required"` possible.
public struct RedisConfig: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    /// ACL user (Redis 6+); nil = the default user.
    public var user: String?
    /// Secret: never printed (see `description`).
    public var password: String?
    public var database: Int
    /// Per lookup; past it the request gets 503.
    public var timeout: Duration
    public var connectTimeout: Duration

    public init(
        host: String, port: UInt16 = 6379, user: String? = nil, password: String? = nil, database: Int = 0,
        timeout: Duration = .milliseconds(250), connectTimeout: Duration = .seconds(1)
    ) {
        self.host = host; self.port = port; self.user = user; self.password = password
        self.database = database; self.timeout = timeout; self.connectTimeout = connectTimeout
    }

    /// The URL with the password replaced by `***`: safe for logs.
    public var description: String {
        var credentials = ""
        if user != nil || password != nil {
            credentials = (user ?? "") + (password != nil ? ":***" : "") + "@"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(hostPart):\(port)/\(database)"
    }

    /// Parses `redis://[user:password@]host[:port][/db]` (port 6379 and db 0 when omitted).
    /// User and password may be percent-encoded. Failure reasons never contain the input.
    public static func parseURL(_ url: String) -> Result<(host: String, port: UInt16, user: String?, password: String?, database: Int), AddressSyntaxError> {
        let scheme = "redis://"
        guard url.hasPrefix(scheme) else {
            return .failure(.init(reason: url.hasPrefix("rediss://") ? "TLS to Redis (rediss://) is not supported" : "the URL must start with redis://"))
        }
        var rest = Substring(url.dropFirst(scheme.count))
        var user: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let (u, p): (Substring, Substring?)
            if let colon = userInfo.firstIndex(of: ":") {
                (u, p) = (userInfo[..<colon], userInfo[userInfo.index(after: colon)...])
            } else {
                (u, p) = (userInfo, nil)
            }
            let badEncoding = AddressSyntaxError(reason: "bad percent-encoding in the user or password")
            guard let du = percentDecode(u) else { return .failure(badEncoding) }
            if let p {
                guard let dp = percentDecode(p) else { return .failure(badEncoding) }
                password = dp
            }
            user = du.isEmpty ? nil : du
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard dbText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let db = Int(dbText), db <= 65535 else {
                    return .failure(.init(reason: "the database must be a number"))
                }
                database = db
            }
        }
        let authority = String(rest)
        let target: UpstreamTarget
        if authority.hasPrefix("[") ? !authority.contains("]:") : !authority.contains(":") {
            switch UpstreamTarget.parse(authority + ":6379") {
            case .success(let t): target = t
            case .failure(let e): return .failure(e)
            }
        } else {
            switch UpstreamTarget.parse(authority) {
            case .success(let t): target = t
            case .failure(let e): return .failure(e)
            }
        }
        return .success((target.host, target.port, user, password, database))
    }

    private static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h < utf8.endIndex, utf8.index(after: h) < utf8.endIndex,
                      let hi = hexValue(utf8[h]), let lo = hexValue(utf8[utf8.index(after: h)]) else { return nil }
                bytes.append(hi << 4 | lo)
                i = utf8.index(h, offsetBy: 2)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}

/// `[sessions]`: how a token maps to a session record, and how long answers are cached.
public struct SessionsConfig: Equatable, Sendable {
    public enum Format: String, Equatable, Sendable {
        /// HGETALL of a hash.
        case hash
        /// GET of a JSON object.
        case json
    }

    /// Redis key template: `{sha256}` = hex SHA-256 of the token, `{token}` = the raw token.
    public var key: String
    public var format: Format
    /// Positive answers are cached this long, never past the session's own expiry.
    public var cacheTTL: Duration
    /// "No such session" is cached this long.
    public var negativeTTL: Duration
    /// Cache entries per worker.
    public var cacheSize: Int
    /// Pub/sub channel; a message is the hex SHA-256 of a revoked token.
    public var revocationChannel: String
    /// Open streams re-check their session this often.
    public var recheckInterval: Duration
    /// `[sessions.fields]`: where each value sits in a record (the defaults are the contract's).
    public var fields: SessionFieldMapping

    public init(
        key: String = "session:{sha256}", format: Format = .hash, cacheTTL: Duration = .seconds(30),
        negativeTTL: Duration = .seconds(5), cacheSize: Int = 100_000, revocationChannel: String = "streamgate:revoked",
        recheckInterval: Duration = .seconds(60), fields: SessionFieldMapping = SessionFieldMapping()
    ) {
        self.key = key; self.format = format; self.cacheTTL = cacheTTL; self.negativeTTL = negativeTTL
        self.cacheSize = cacheSize; self.revocationChannel = revocationChannel
        self.recheckInterval = recheckInterval; self.fields = fields
    }
}

/// `[auth]`: where tokens are looked for. Holds the extractor the request path uses, so the
/// token settings reach it as decoded.
public struct AuthConfig: Equatable, Sendable {
    /// `api_key_header`, `query_param`, `max_token_length`.
    public var tokens: TokenExtractor
    /// Default of the route key `allow_underscore_headers` (see `RouteAuth.refusesUnderscoreHeaders`).
    public var allowUnderscoreHeaders: Bool

    public init(apiKeyHeader: String = "X-Api-Key", queryParam: String = "access_token", maxTokenLength: Int = 4096,
                allowUnderscoreHeaders: Bool = false) {
        tokens = TokenExtractor(apiKeyHeader: apiKeyHeader, queryParameter: queryParam, maxTokenLength: maxTokenLength)
        self.allowUnderscoreHeaders = allowUnderscoreHeaders
    }

    /// Header carrying an API key (`Authorization: Bearer` is always accepted too).
    public var apiKeyHeader: String {
        get { tokens.apiKeyHeader }
        set { tokens.apiKeyHeader = newValue }
    }
    /// Query parameter for routes with `query_token = true`.
    public var queryParam: String {
        get { tokens.queryParameter }
        set { tokens.queryParameter = newValue }
    }
    /// Longer tokens are rejected (400) before any lookup.
    public var maxTokenLength: Int {
        get { tokens.maxTokenLength }
        set { tokens.maxTokenLength = newValue }
    }
}

/// `[identity]`: headers the gateway sets on upstream requests (and strips from clients).
/// Holds the header names the request path uses, so they reach it as decoded.
public struct IdentityConfig: Equatable, Sendable {
    /// `user_header`, `tenant_header`, `scopes_header`, `signature_header` (the expiry header
    /// has no key: it keeps the contract's name).
    public var headers: IdentityHeaders
    /// Secret: enables the signed assertion header when set. Never printed.
    public var signingSecret: String?

    public init(
        userHeader: String = "X-Auth-User-Id", tenantHeader: String = "X-Auth-Tenant-Id", scopesHeader: String = "X-Auth-Scopes",
        signingSecret: String? = nil, signatureHeader: String = "X-Auth-Signature"
    ) {
        headers = IdentityHeaders(userHeader: userHeader, tenantHeader: tenantHeader, scopesHeader: scopesHeader,
                                  signatureHeader: signatureHeader)
        self.signingSecret = signingSecret
    }

    public var userHeader: String {
        get { headers.userHeader }
        set { headers.userHeader = newValue }
    }
    public var tenantHeader: String {
        get { headers.tenantHeader }
        set { headers.tenantHeader = newValue }
    }
    public var scopesHeader: String {
        get { headers.scopesHeader }
        set { headers.scopesHeader = newValue }
    }
    public var signatureHeader: String {
        get { headers.signatureHeader }
        set { headers.signatureHeader = newValue }
    }
}
