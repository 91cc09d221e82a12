import StreamgateCore
import StreamgateIO

/// The validated config, resolved for the data path (addresses resolved, defaults applied).
/// Immutable and shared by every worker; a reload builds a new one and swaps it in per loop.
public struct ProxySettings: Sendable {
    public struct Upstream: Sendable {
        public var name: String
        public var targets: [SocketAddress]
        public var connectTimeout: Duration
        public var readTimeout: Duration
        public var poolSize: Int
        public var idleTimeout: Duration
    }

    public struct Route: Sendable {
        public var name: String
        public var upstream: Int
        public var connectTimeout: Duration
        public var readTimeout: Duration
        /// Treat the response as an event stream even without `text/event-stream`.
        public var forceStream: Bool
        public var stream: StreamSettings
    }

    /// Per-stream SSE settings (route overrides applied over the `[sse]` defaults).
    public struct StreamSettings: Sendable {
        public var keepalive: Duration?
        public var upstreamIdleTimeout: Duration?
        public var maxStreamDuration: Duration?
        public var retry: Duration?
        public var maxClientBuffer: Int
    }

    public var limits: HTTPLimits
    public var maxBodyBytes: UInt64
    public var maxConnections: Int
    public var keepaliveTimeout: Duration
    public var headerTimeout: Duration
    public var sendTimeout: Duration
    /// Client output watermark above which upstream reads pause (non-stream responses).
    public var clientBuffer: Int
    public var trustForwarded: Bool
    public var upstreams: [Upstream]
    public var routes: [Route]
    public var router: Router
    /// Session-store authentication; nil when no `[redis]` is configured.
    public var auth: AuthRuntime?
    /// Per route, same indices as `routes`.
    public var routeAuth: [RouteAuth]
    /// Identity header names: client copies are always stripped, even without auth.
    public var identity: IdentityHeaders
    /// HMAC key for the signed identity assertion (nil = signing off).
    public var signingKey: [UInt8]?
}
