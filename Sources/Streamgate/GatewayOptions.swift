import StreamgateCore
import StreamgateIO

/// Options that shape the process rather than the data path.
public struct GatewayOptions: Sendable {
    public var workers: Int
    /// In `[[listeners]]` order: entry i is served with `ProxySettings.listeners[i]`.
    public var listenAddresses: [SocketAddress]
    public var drainTimeout: Duration
    public var accessLog: LogFile?
    public var errorLog: LogFile
    /// `/healthz`, `/readyz`, `/metrics`; nil = no admin endpoint.
    public var adminAddress: SocketAddress?

    public init(workers: Int, listenAddresses: [SocketAddress], drainTimeout: Duration, accessLog: LogFile?,
                errorLog: LogFile = .stderr, adminAddress: SocketAddress? = nil) {
        self.workers = workers; self.listenAddresses = listenAddresses; self.drainTimeout = drainTimeout
        self.accessLog = accessLog; self.errorLog = errorLog; self.adminAddress = adminAddress
    }
}

/// The running gateway: N worker threads, each with its own loop, listeners and pools.
///
/// Lifecycle: `start()` binds every listener (port 0 resolved once, then shared through
/// SO_REUSEPORT by every worker), starts the workers and returns the bound addresses;
/// `drain()` stops accepting and lets in-flight work end; `wait()` joins the threads.
