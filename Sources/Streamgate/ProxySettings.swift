import StreamgateCore
import StreamgateIO

/// The validated config, resolved for the data path (addresses resolved, defaults applied).
/// Immutable and shared by every worker; a reload builds a new one and swaps it in per loop.
/// A class, so the request path passes one reference around instead of copying (and
/// retaining) a dozen arrays each time it looks at a setting.
public final class ProxySettings: Sendable {
    public struct Upstream: Sendable, Equatable {
        /// One configured `host:port` and every address its name resolved to, in resolver order.
        public struct Target: Sendable, Equatable {
            public var name: String
            /// The configured host (name or IP literal): the TLS server name unless overridden.
            public var host: String
            public var addresses: [SocketAddress]
        }
        /// `tls = true`: the client context (verification, client certificate) and the name
        /// to send and verify when not each target's host. Equal only to itself: contexts are
        /// rebuilt on every reload (files may have changed), so a TLS upstream's pool is
        /// renewed by any reload.
        public struct TLS: Sendable, Equatable {
            public let context: TLSClientContext
            public let serverName: String?
            public static func == (a: TLS, b: TLS) -> Bool { a.context === b.context && a.serverName == b.serverName }
        }
        public var name: String
        public var targets: [Target]
        public var connectTimeout: Duration
        public var readTimeout: Duration
        public var poolSize: Int
        public var idleTimeout: Duration
        public var tls: TLS?

        /// The TLS server name for a target: `server_name`, else the target's host.
        public func serverName(target: Int) -> String { tls?.serverName ?? targets[target].host }
    }

    public struct Route: Sendable {
        public var name: String
        public var upstream: Int
        public var connectTimeout: Duration
        public var readTimeout: Duration
        /// Treat the response as an event stream even without `text/event-stream`.
        public var forceStream: Bool
        public var stream: StreamSettings
        public var streamLimits = StreamgateCore.StreamLimits()
    }

    /// Limits on who may hold how much: streams (route values carry theirs) and connections.
    public struct AdmissionSettings: Sendable, Equatable {
        /// Open connections per client IP in this instance; 0 = unlimited.
        public var maxConnectionsPerIP = 0
        /// Stream limits counted fleet-wide in Redis (leases) rather than per instance.
        public var sharedStreamLimits = false
        public var leaseTTL: Duration = .seconds(30)
        public init() {}
    }

    /// Per-stream SSE settings (route overrides applied over the `[sse]` defaults).
    public struct StreamSettings: Sendable {
        public var keepalive: Duration?
        public var upstreamIdleTimeout: Duration?
        public var maxStreamDuration: Duration?
        public var retry: Duration?
        public var maxClientBuffer: Int
    }

    /// What the data path needs to know about one `[[listeners]]` entry.
    public struct ListenerPolicy: Sendable {
        /// The configured address (port 0 included): how a connection's listener is found,
        /// whatever order a reload leaves the listeners in.
        public var address: SocketAddress?
        /// Peers whose X-Forwarded-For / Forwarded chain is extended (`trust_forwarded`).
        public var trustForwarded: TrustedProxies
        /// Connections open with a PROXY protocol header naming the client (`proxy_protocol`).
        public var proxyProtocol: Bool
        /// The certificates served when the listener terminates TLS.
        public var tls: TLSServerContext?

        public init(address: SocketAddress? = nil, trustForwarded: TrustedProxies = .none, proxyProtocol: Bool = false,
                    tls: TLSServerContext? = nil) {
            self.address = address
            self.trustForwarded = trustForwarded
            self.proxyProtocol = proxyProtocol
            self.tls = tls
        }

        /// For a listener the settings do not describe: the edge default, nobody trusted.
        public static let edge = ListenerPolicy()
    }

    public let limits: HTTPLimits
    public let maxBodyBytes: UInt64
    public let maxConnections: Int
    public let keepaliveTimeout: Duration
    public let headerTimeout: Duration
    public let sendTimeout: Duration
    /// Client output watermark above which upstream reads pause (non-stream responses).
    public let clientBuffer: Int
    /// Per listener, in `[[listeners]]` order.
    public let listeners: [ListenerPolicy]
    public let upstreams: [Upstream]
    public let routes: [Route]
    public let router: Router
    /// Session-store authentication; nil when no `[redis]` is configured.
    public let auth: AuthRuntime?
    /// Per route, same indices as `routes`.
    public let routeAuth: [RouteAuth]
    /// Identity header names: client copies are always stripped, even without auth.
    public let identity: IdentityHeaders
    /// HMAC key for the signed identity assertion (nil = signing off).
    public let signingKey: [UInt8]?
    public let admission: AdmissionSettings

    /// The policy of the listener configured at `address`; the edge default for one the
    /// settings do not describe.
    public func listener(configured address: SocketAddress) -> ListenerPolicy {
        listeners.first { $0.address == address } ?? .edge
    }

    public init(
        limits: HTTPLimits,
        maxBodyBytes: UInt64,
        maxConnections: Int,
        keepaliveTimeout: Duration,
        headerTimeout: Duration,
        sendTimeout: Duration,
        clientBuffer: Int,
        listeners: [ListenerPolicy],
        upstreams: [Upstream],
        routes: [Route],
        router: Router,
        auth: AuthRuntime?,
        routeAuth: [RouteAuth],
        identity: IdentityHeaders,
        signingKey: [UInt8]?,
        admission: AdmissionSettings = AdmissionSettings()
    ) {
        self.admission = admission
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
        self.maxConnections = maxConnections
        self.keepaliveTimeout = keepaliveTimeout
        self.headerTimeout = headerTimeout
        self.sendTimeout = sendTimeout
        self.clientBuffer = clientBuffer
        self.listeners = listeners
        self.upstreams = upstreams
        self.routes = routes
        self.router = router
        self.auth = auth
        self.routeAuth = routeAuth
        self.identity = identity
        self.signingKey = signingKey
    }
}
