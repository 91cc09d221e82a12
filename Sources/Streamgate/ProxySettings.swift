import StreamgateCore
import StreamgateIO

/// The configuration as the data path uses it: the decoded `GatewayConfig` (routes, limits,
/// auth and identity settings are used as decoded, never copied field by field into a second
/// set of types) plus what can only be derived outside Core, once per load: resolved
/// addresses, TLS contexts, the router's precedence order, the Redis client's settings.
///
/// Immutable and shared by every worker; a reload builds a new one and each worker swaps it
/// in (with its pools and session store, see `WorkerSnapshot`). A class, so the request path
/// passes one reference around instead of copying (and retaining) a dozen arrays.
public final class ProxySettings: Sendable {
    /// One `[upstreams.NAME]`: the decoded value and what was derived from it at load.
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
        /// As decoded: a pool is kept across a reload only when this (every setting) is equal.
        public let config: UpstreamConfig
        /// Same order as `config.targets`.
        public let targets: [Target]
        public let tls: TLS?

        public var name: String { config.name }
        public var poolSize: Int { config.poolSize }
        public var idleTimeout: Duration { config.idleTimeout }

        /// The TLS server name for a target: `server_name`, else the target's host.
        public func serverName(target: Int) -> String { tls?.serverName ?? targets[target].host }
    }

    /// What the data path needs to know about one `[[listeners]]` entry.
    public struct ListenerPolicy: Sendable {
        /// As decoded; nil for a listener the settings do not describe.
        public let config: ListenerConfig?
        /// The configured address (port 0 included): how a connection's listener is found,
        /// whatever order a reload leaves the listeners in.
        public let address: SocketAddress?
        /// The certificates served when the listener terminates TLS.
        public let tls: TLSServerContext?

        public init(config: ListenerConfig?, address: SocketAddress?, tls: TLSServerContext?) {
            self.config = config
            self.address = address
            self.tls = tls
        }

        /// Peers whose X-Forwarded-For / Forwarded chain is extended (`trust_forwarded`).
        public var trustForwarded: TrustedProxies { config?.trustForwarded ?? .none }
        /// Connections open with a PROXY protocol header naming the client (`proxy_protocol`).
        public var proxyProtocol: Bool { config?.proxyProtocol ?? false }

        /// For a listener the settings do not describe: the edge default, nobody trusted.
        public static let edge = ListenerPolicy(config: nil, address: nil, tls: nil)
    }

    /// Per-stream SSE settings: the decoded value (route overrides over the `[sse]` defaults).
    public typealias StreamSettings = StreamgateCore.StreamSettings

    /// As decoded and validated.
    public let config: GatewayConfig
    /// Picks a request's route; holds `config.routes`.
    public let router: Router
    public let limits: HTTPLimits
    /// Per listener, in `[[listeners]]` order.
    public let listeners: [ListenerPolicy]
    /// Same order as `config.upstreams` (`Route.upstreamIndex` points here and into the
    /// per-worker pools).
    public let upstreams: [Upstream]
    /// Session-store authentication; nil when no `[redis]` is configured.
    public let auth: AuthRuntime?
    /// Signs the identity assertion with `[identity] signing_secret` (nil = signing off).
    /// Prepared once per config: a reload with a new secret makes new settings.
    public let signer: Crypto.HMACKey?

    public var maxBodyBytes: UInt64 { UInt64(config.limits.maxBodyBytes) }
    public var maxConnections: Int { config.limits.maxConnections }
    public var keepaliveTimeout: Duration { config.limits.keepaliveTimeout }
    public var headerTimeout: Duration { config.limits.headerTimeout }
    public var sendTimeout: Duration { config.limits.sendTimeout }
    /// Client output watermark above which upstream reads pause (non-stream responses).
    public var clientBuffer: Int { config.limits.clientBuffer }
    /// Identity header names: client copies are always stripped, even without auth.
    /// Stored, not read through `config` per request (a copy of five names each time).
    public let identity: IdentityHeaders
    /// Every route, in file order (the router's table).
    public var routes: [Route] { router.routes }

    /// The policy of the listener configured at `address`; the edge default for one the
    /// settings do not describe.
    public func listener(configured address: SocketAddress) -> ListenerPolicy {
        listeners.first { $0.address == address } ?? .edge
    }

    init(config: GatewayConfig, listeners: [ListenerPolicy], upstreams: [Upstream], auth: AuthRuntime?) {
        precondition(config.routes.indices.allSatisfy { config.routes[$0].index == $0 }, "routes carry their table position")
        self.config = config
        self.router = Router(routes: config.routes)
        self.limits = HTTPLimits(maxHeaderBytes: config.limits.maxHeaderBytes, maxHeaderCount: config.limits.maxHeaders)
        self.listeners = listeners
        self.upstreams = upstreams
        self.auth = auth
        self.identity = config.identity.headers
        self.signer = config.identity.signingSecret.map { Crypto.HMACKey(Array($0.utf8)) }
    }
}

/// The prepared key signs identity assertions as the request builder asks (same method).
extension Crypto.HMACKey: IdentitySigner {}
