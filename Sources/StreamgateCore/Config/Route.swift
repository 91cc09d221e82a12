/// `[[routes]]`: one entry of the route table, exactly as the data path uses it.
///
/// The config decoder builds these (every inherited value resolved: upstream timeouts, `[sse]`
/// defaults, `[limits]` stream limits, `[auth]` defaults) and the router hands them back, so a
/// setting cannot be decoded and then lost on the way to the request path: there is no second,
/// runtime copy of a route to forget a field in.
///
/// A final class: routing happens per request, and a match passes one reference on instead of
/// copying (and retaining) a struct of a dozen strings and arrays. Immutable, so one instance
/// is shared by every worker; a reload builds new ones.
public final class Route: Sendable, Equatable, CustomStringConvertible {
    /// Unique in the table; used in logs and metrics labels.
    public let name: String
    /// Position in the table (file order): per-worker state derived from the table (metrics
    /// slots) is kept in arrays in this order.
    public let index: Int
    /// nil = any host.
    public let host: RouteHost?
    public let path: RoutePath
    /// Uppercase method tokens; nil = every method. A route allowing GET also answers HEAD.
    public let methods: [String]?
    /// Name of an entry of `GatewayConfig.upstreams`...
    public let upstream: String
    /// ...and its position there (the same order as the per-worker upstream pools).
    public let upstreamIndex: Int
    public let rewrite: PathRewrite
    /// `raw_path = true`: the path goes upstream exactly as received instead of in canonical
    /// form, and `%2F`, `%5C` and `\\` are accepted. Routing still matches the canonical path.
    /// Only for upstreams that need the raw bytes and do not resolve paths themselves.
    public let rawPath: Bool
    /// Route override, else the upstream's value.
    public let connectTimeout: Duration
    /// Route override, else the upstream's value.
    public let readTimeout: Duration
    /// `sse = true`: treat the response as an event stream even without
    /// `Content-Type: text/event-stream`.
    public let forceStream: Bool
    /// `[sse]` defaults with this route's overrides applied.
    public let stream: StreamSettings
    /// Who may use the route, CORS, and what of the client's credentials goes upstream.
    public let auth: RouteAuth
    /// Concurrent streams allowed on this route: in total, per user, per tenant.
    public let streamLimits: StreamLimits

    public init(
        name: String, index: Int = 0, host: RouteHost? = nil, path: RoutePath, methods: [String]? = nil,
        upstream: String, upstreamIndex: Int = 0, rewrite: PathRewrite = .none, rawPath: Bool = false,
        connectTimeout: Duration = .seconds(2), readTimeout: Duration = .seconds(60), forceStream: Bool = false,
        stream: StreamSettings = StreamSettings(), auth: RouteAuth = RouteAuth(), streamLimits: StreamLimits = StreamLimits()
    ) {
        self.name = name; self.index = index; self.host = host; self.path = path; self.methods = methods
        self.upstream = upstream; self.upstreamIndex = upstreamIndex; self.rewrite = rewrite; self.rawPath = rawPath
        self.connectTimeout = connectTimeout; self.readTimeout = readTimeout; self.forceStream = forceStream
        self.stream = stream; self.auth = auth; self.streamLimits = streamLimits
    }

    /// Whether this route answers `method` (nil methods = all; GET implies HEAD).
    public func allows(method: String) -> Bool {
        guard let methods else { return true }
        return methods.contains(method) || (method == "HEAD" && methods.contains("GET"))
    }

    /// The path sent upstream for a request matched to this route: applies `strip_prefix` or
    /// `rewrite_prefix`; every other route forwards the path unchanged. `path` excludes the
    /// query, which the caller re-attaches.
    ///
    /// The part after the prefix is joined to the replacement at one `/`, so `/api/users` on
    /// prefix `/api/` or `/api` goes up as `/v2/users` for both `/v2` and `/v2/`; a request
    /// for exactly the prefix goes up as exactly the replacement (`/` when stripping).
    /// A `raw_path` route forwards `rawPath` (the path as received) when there is one.
    public func upstreamPath(_ path: String, rawPath received: String? = nil) -> String {
        if rawPath { return received ?? path }
        guard case .prefix(let prefix) = self.path, RoutePath.prefixMatches(prefix, path) else { return path }
        let replacement: String
        switch rewrite {
        case .none: return path
        case .stripPrefix: replacement = "/"
        case .replacePrefix(let r): replacement = r
        }
        var rest = path.utf8.dropFirst(prefix.utf8.count)
        if rest.isEmpty { return replacement.isEmpty ? "/" : replacement }
        // The boundary `/` is in the prefix ("/api/") or starts the rest ("/api" + "/x").
        if prefix.utf8.last != UInt8(ascii: "/") { rest = rest.dropFirst() }
        var base = Substring(replacement)
        if base.hasSuffix("/") { base = base.dropLast() }
        return base + "/" + String(Substring(rest))
    }

    public var description: String { "route '\(name)' (\(path))" }

    /// Every setting compared: two loads of the same text give equal configurations.
    public static func == (a: Route, b: Route) -> Bool {
        a === b || (a.name == b.name && a.index == b.index && a.host == b.host && a.path == b.path && a.methods == b.methods
            && a.upstream == b.upstream && a.upstreamIndex == b.upstreamIndex && a.rewrite == b.rewrite && a.rawPath == b.rawPath
            && a.connectTimeout == b.connectTimeout && a.readTimeout == b.readTimeout && a.forceStream == b.forceStream
            && a.stream == b.stream && a.auth == b.auth && a.streamLimits == b.streamLimits)
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
