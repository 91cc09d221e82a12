/// The whole, validated gateway configuration.
///
/// Produced only by `ConfigLoader` (or built directly in tests): every value here has already
/// been checked, defaults applied and cross-references resolved, so the rest of the gateway
/// never re-validates. Durations are `Duration`, sizes are byte counts.
public struct GatewayConfig: Equatable, Sendable {
    /// The file the configuration came from (for messages and reload).
    public var fileName: String
    public var gateway: GatewaySettings
    public var listeners: [ListenerConfig]
    public var admin: AdminConfig?
    public var limits: LimitsConfig
    /// Global stream defaults; each route carries its own resolved copy in `Route.stream`.
    public var sse: StreamSettings
    /// In file order.
    public var upstreams: [UpstreamConfig]
    /// In file order; `Router` decides precedence.
    public var routes: [Route]
    /// nil when the `[redis]` table is absent: then no route may require auth.
    public var redis: RedisConfig?
    public var sessions: SessionsConfig
    public var auth: AuthConfig
    public var identity: IdentityConfig

    public init(
        fileName: String, gateway: GatewaySettings = GatewaySettings(), listeners: [ListenerConfig],
        admin: AdminConfig? = nil, limits: LimitsConfig = LimitsConfig(), sse: StreamSettings = StreamSettings(),
        upstreams: [UpstreamConfig], routes: [Route], redis: RedisConfig? = nil,
        sessions: SessionsConfig = SessionsConfig(), auth: AuthConfig = AuthConfig(), identity: IdentityConfig = IdentityConfig()
    ) {
        self.fileName = fileName; self.gateway = gateway; self.listeners = listeners; self.admin = admin
        self.limits = limits; self.sse = sse; self.upstreams = upstreams; self.routes = routes
        self.redis = redis; self.sessions = sessions; self.auth = auth; self.identity = identity
    }

    public func upstream(named name: String) -> UpstreamConfig? { upstreams.first { $0.name == name } }
}

/// `[gateway]`: process-wide settings.
public struct GatewaySettings: Equatable, Sendable {
    public enum Workers: Equatable, Sendable {
        /// One event loop per CPU core.
        case auto
        case count(Int)
    }

    public enum AccessLog: Equatable, Sendable {
        case stdout
        case off
        case file(path: String)
    }

    public enum LogLevel: String, Equatable, Sendable, CaseIterable {
        case trace, debug, info, warning, error
    }

    public var workers: Workers
    /// On SIGTERM, how long open streams get to end at an event boundary.
    public var drainTimeout: Duration
    public var accessLog: AccessLog
    public var logLevel: LogLevel
    /// Where `run` writes its process id (for `streamgate reload --pid-file`); nil = nowhere.
    public var pidFile: String?

    public init(workers: Workers = .auto, drainTimeout: Duration = .seconds(30), accessLog: AccessLog = .stdout, logLevel: LogLevel = .info,
                pidFile: String? = nil) {
        self.workers = workers; self.drainTimeout = drainTimeout; self.accessLog = accessLog; self.logLevel = logLevel
        self.pidFile = pidFile
    }
}

/// A PEM certificate chain and private key pair, with the config line that named them
/// (files are read when the config is applied; their errors point back here).
public struct TLSFiles: Equatable, Sendable {
    public var certificatePath: String
    public var privateKeyPath: String
    public var line: Int
    public init(certificatePath: String, privateKeyPath: String, line: Int = 0) {
        self.certificatePath = certificatePath; self.privateKeyPath = privateKeyPath; self.line = line
    }
}

/// `[[listeners]]`: one bound socket.
public struct ListenerConfig: Equatable, Sendable {
    public var address: ListenAddress
    /// The certificates served (TLS on when not empty): `tls_cert`/`tls_key` first (the
    /// default), then each `[[listeners.certificates]]`, chosen by the client's SNI name.
    public var certificates: [TLSFiles]
    public var isTLS: Bool { !certificates.isEmpty }
    /// `trust_forwarded`: peers whose X-Forwarded-For / Forwarded chain is extended rather
    /// than replaced. Empty (the default): the gateway is the edge and trusts no one.
    public var trustForwarded: TrustedProxies
    /// `proxy_protocol`: every connection must open with a PROXY protocol header (v1 or v2),
    /// whose source address then stands for the client (logs, per-IP limits, forwarding).
    public var proxyProtocol: Bool

    public init(address: ListenAddress, certificates: [TLSFiles] = [], trustForwarded: TrustedProxies = .none, proxyProtocol: Bool = false) {
        self.address = address; self.certificates = certificates; self.trustForwarded = trustForwarded; self.proxyProtocol = proxyProtocol
    }
}

/// `[admin]`: the listener for `/metrics`, `/healthz`, `/readyz`.
public struct AdminConfig: Equatable, Sendable {
    public var address: ListenAddress
    public init(address: ListenAddress) { self.address = address }
}

/// `[limits]`: per-connection and per-process resource bounds.
public struct LimitsConfig: Equatable, Sendable {
    /// Request line plus all header fields; past it: 431.
    public var maxHeaderBytes: Int
    /// Header field count; past it: 431.
    public var maxHeaders: Int
    /// Request body; past it: 413. 0 = unlimited.
    public var maxBodyBytes: Int
    /// Open client connections per worker process.
    public var maxConnections: Int
    /// Idle client connection between requests.
    public var keepaliveTimeout: Duration
    /// Time to receive a whole request head; past it: 408.
    public var headerTimeout: Duration
    /// A client that reads nothing for this long is disconnected.
    public var sendTimeout: Duration
    /// Client output buffered before reading from the upstream pauses (the watermark).
    public var clientBuffer: Int
    /// Concurrent streams per session user and per tenant (routes may override); 0 = unlimited.
    public var maxStreamsPerUser: Int = 0
    public var maxStreamsPerTenant: Int = 0
    /// Count the per-user and per-tenant limits fleet-wide in Redis (leases) instead of per
    /// gateway instance. Needs `[redis]`.
    public var shared: Bool = false
    /// How long a shared lease outlives the instance holding it (it is renewed at a third of it).
    public var leaseTTL: Duration = .seconds(30)
    /// Open client connections from one IP address, per gateway instance; 0 = unlimited.
    public var maxConnectionsPerIP: Int = 0

    public init(
        maxHeaderBytes: Int = 32 << 10, maxHeaders: Int = 100, maxBodyBytes: Int = 10 << 20,
        maxConnections: Int = 10_000, keepaliveTimeout: Duration = .seconds(75), headerTimeout: Duration = .seconds(10),
        sendTimeout: Duration = .seconds(60), clientBuffer: Int = 64 << 10
    ) {
        self.maxHeaderBytes = maxHeaderBytes; self.maxHeaders = maxHeaders; self.maxBodyBytes = maxBodyBytes
        self.maxConnections = maxConnections; self.keepaliveTimeout = keepaliveTimeout
        self.headerTimeout = headerTimeout; self.sendTimeout = sendTimeout; self.clientBuffer = clientBuffer
    }
}

/// Stream behaviour: `[sse]` holds the defaults, a route may override any of them.
/// A duration of zero in the file (off) is nil here, so the stream code cannot mistake "off"
/// for "immediately".
public struct StreamSettings: Equatable, Sendable {
    /// Comment written after this much quiet (only at an event boundary). nil = never.
    public var keepalive: Duration?
    /// Upstream silent for this long: the stream is closed. nil = never.
    public var upstreamIdleTimeout: Duration?
    /// Streams are ended (at a boundary) after this long. nil = unlimited.
    public var maxStreamDuration: Duration?
    /// When set, a `retry:` field (in milliseconds) is sent at stream start.
    public var retry: Duration?
    /// A client this far behind is cut loose instead of growing the heap.
    public var maxClientBuffer: Int

    public init(
        keepalive: Duration? = .seconds(15), upstreamIdleTimeout: Duration? = .seconds(300),
        maxStreamDuration: Duration? = nil, retry: Duration? = nil, maxClientBuffer: Int = 1 << 20
    ) {
        self.keepalive = keepalive; self.upstreamIdleTimeout = upstreamIdleTimeout
        self.maxStreamDuration = maxStreamDuration; self.retry = retry; self.maxClientBuffer = maxClientBuffer
    }
}

/// `[upstreams.NAME]`: a pool of equivalent servers.
public struct UpstreamConfig: Equatable, Sendable {
    /// `tls = true` and its settings.
    public struct TLS: Equatable, Sendable {
        /// Trusted roots (PEM); nil = the system's store.
        public var caFile: String?
        /// Name sent as SNI and required in the certificate; nil = each target's host.
        public var serverName: String?
        /// `tls_verify = false` turns certificate checks off (logged at start as insecure).
        public var verify: Bool = true
        /// A client certificate (`tls_cert`/`tls_key`) for upstreams that require one.
        public var clientCertificate: TLSFiles?
        /// The line of `tls = true`.
        public var line: Int = 0
        public init(caFile: String? = nil, serverName: String? = nil, verify: Bool = true, clientCertificate: TLSFiles? = nil, line: Int = 0) {
            self.caFile = caFile; self.serverName = serverName; self.verify = verify
            self.clientCertificate = clientCertificate; self.line = line
        }
    }

    public var name: String
    /// Never empty.
    public var targets: [UpstreamTarget]
    public var connectTimeout: Duration
    /// Waiting for the response head, and between body bytes of non-stream responses.
    public var readTimeout: Duration
    /// Idle keep-alive connections kept per target per worker (0 = no pooling).
    public var poolSize: Int
    /// A pooled connection unused this long is closed.
    public var idleTimeout: Duration
    /// nil = plain HTTP to the targets.
    public var tls: TLS?

    public static let defaultConnectTimeout: Duration = .seconds(2)
    public static let defaultReadTimeout: Duration = .seconds(60)

    public init(
        name: String, targets: [UpstreamTarget], connectTimeout: Duration = defaultConnectTimeout, readTimeout: Duration = defaultReadTimeout,
        poolSize: Int = 32, idleTimeout: Duration = .seconds(60), tls: TLS? = nil
    ) {
        self.name = name; self.targets = targets; self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout; self.poolSize = poolSize; self.idleTimeout = idleTimeout
        self.tls = tls
    }
}
