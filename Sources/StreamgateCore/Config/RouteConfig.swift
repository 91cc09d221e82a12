/// `[[routes]]`: one entry of the route table, with every inherited value already resolved.
public struct RouteConfig: Equatable, Sendable {
    public enum AuthMode: String, Equatable, Sendable {
        /// No valid session: 401.
        case required
        /// A token, when present, must be valid; without one the request passes anonymously.
        case optional
        /// Tokens are not looked at (and still stripped per `[identity]`).
        case none
    }

    public enum CORSPolicy: Equatable, Sendable {
        /// No CORS headers are added.
        case disabled
        /// Exact origins, `scheme://host[:port]`, lowercased.
        case origins([String])
        /// The session's own `allowed_origins` decide.
        case session
    }

    /// Unique in the table; used in logs and metrics labels.
    public var name: String
    /// nil = any host.
    public var host: RouteHost?
    public var path: RoutePath
    /// Uppercase method tokens; nil = every method. A route allowing GET also answers HEAD.
    public var methods: [String]?
    /// Name of an entry of `GatewayConfig.upstreams`.
    public var upstream: String
    public var rewrite: PathRewrite
    /// Route override, else the upstream's value.
    public var connectTimeout: Duration
    /// Route override, else the upstream's value.
    public var readTimeout: Duration
    /// Treat the response as an event stream even without `Content-Type: text/event-stream`.
    public var sse: Bool
    /// `[sse]` defaults with this route's overrides applied.
    public var stream: StreamSettings
    public var auth: AuthMode
    /// Accept the token from the `[auth] query_param` query parameter.
    public var queryToken: Bool
    /// A `{param}` of `path` that must equal the session's tenant.
    public var tenantParam: String?
    /// All required.
    public var scopes: [String]
    public var cors: CORSPolicy
    /// Send the client's `Authorization` header upstream (it is removed by default).
    public var forwardAuthorization: Bool
    /// Query parameter whose value is sent upstream as `Last-Event-ID` (for clients that
    /// reconnect by URL); the parameter itself is removed from the upstream target.
    public var lastEventIDParam: String?
    /// Event name written (as `event: NAME` with empty data) before a stream ends because its
    /// session expired, so clients can tell "log in again" from a network drop.
    public var sessionEndEvent: String?
    /// `raw_path = true`: the path goes upstream exactly as received instead of in canonical
    /// form, and `%2F`, `%5C` and `\\` are accepted. Routing still matches the canonical path.
    /// Only for upstreams that need the raw bytes and do not resolve paths themselves.
    public var rawPath: Bool = false
    /// Concurrent streams allowed on this route: in total, per user, per tenant.
    public var streamLimits = StreamLimits()
    /// `allow_underscore_headers` (route, else `[auth]`): accept header names containing `_`
    /// on a route that authenticates. Off by default: see `refusesUnderscoreHeaders`.
    public var allowUnderscoreHeaders: Bool = false

    public init(
        name: String, host: RouteHost? = nil, path: RoutePath, methods: [String]? = nil, upstream: String,
        rewrite: PathRewrite = .none, connectTimeout: Duration = .seconds(2), readTimeout: Duration = .seconds(60),
        sse: Bool = false, stream: StreamSettings = StreamSettings(), auth: AuthMode = .none, queryToken: Bool = false,
        tenantParam: String? = nil, scopes: [String] = [], cors: CORSPolicy = .disabled, forwardAuthorization: Bool = false,
        lastEventIDParam: String? = nil, sessionEndEvent: String? = nil
    ) {
        self.name = name; self.host = host; self.path = path; self.methods = methods; self.upstream = upstream
        self.rewrite = rewrite; self.connectTimeout = connectTimeout; self.readTimeout = readTimeout; self.sse = sse
        self.stream = stream; self.auth = auth; self.queryToken = queryToken; self.tenantParam = tenantParam
        self.scopes = scopes; self.cors = cors; self.forwardAuthorization = forwardAuthorization
        self.lastEventIDParam = lastEventIDParam; self.sessionEndEvent = sessionEndEvent
    }

    /// Whether a request carrying a header name with `_` is refused (400) on this route: on
    /// routes that authenticate, unless allowed. `_` is a valid name character (RFC 9110 §5.1),
    /// but CGI-style stacks fold `-` and `_` together (RFC 3875 §4.1.18), so such a name can
    /// alias one the upstream trusts. The gateway drops aliases of the names it owns anyway;
    /// refusing the rest closes the same hole for headers an upstream trusts that the gateway
    /// does not know about, where it matters most: on requests that carry an identity.
    public var refusesUnderscoreHeaders: Bool { auth != .none && !allowUnderscoreHeaders }

    /// Whether this route answers `method` (nil methods = all; GET implies HEAD).
    public func allows(method: String) -> Bool {
        guard let methods else { return true }
        return methods.contains(method) || (method == "HEAD" && methods.contains("GET"))
    }
}

/// Concurrent-stream limits of one route; 0 = unlimited. A request counts as a stream from
/// the moment it is forwarded (on a route with `sse = true`, or asking for
/// `text/event-stream`) until its exchange ends.
public struct StreamLimits: Equatable, Sendable {
    public var perRoute = 0
    public var perUser = 0
    public var perTenant = 0

    public init(perRoute: Int = 0, perUser: Int = 0, perTenant: Int = 0) {
        self.perRoute = perRoute; self.perUser = perUser; self.perTenant = perTenant
    }

    public var isUnlimited: Bool { perRoute == 0 && perUser == 0 && perTenant == 0 }
}
