import StreamgateCore
import StreamgateIO

public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension ProxySettings {
    /// Resolves a validated config for the data path. Upstream host names are resolved here,
    /// once (getaddrinfo blocks; the event loops never call it).
    public init(config: GatewayConfig) throws(SettingsError) {
        var upstreams: [Upstream] = []
        for u in config.upstreams {
            var targets: [SocketAddress] = []
            for t in u.targets {
                do { targets.append(try SocketAddress.resolve(t.description)) } catch {
                    throw SettingsError(description: "\(config.fileName): upstream '\(u.name)': \(error)")
                }
            }
            upstreams.append(Upstream(name: u.name, targets: targets, connectTimeout: u.connectTimeout,
                                      readTimeout: u.readTimeout, poolSize: u.poolSize, idleTimeout: u.idleTimeout))
        }
        let routes: [Route] = config.routes.map { r in
            let upstreamIndex = config.upstreams.firstIndex { $0.name == r.upstream } ?? 0
            return Route(
                name: r.name, upstream: upstreamIndex, connectTimeout: r.connectTimeout, readTimeout: r.readTimeout,
                forceStream: r.sse,
                stream: StreamSettings(
                    keepalive: r.stream.keepalive > .zero ? r.stream.keepalive : nil,
                    upstreamIdleTimeout: r.stream.upstreamIdleTimeout > .zero ? r.stream.upstreamIdleTimeout : nil,
                    maxStreamDuration: r.stream.maxStreamDuration > .zero ? r.stream.maxStreamDuration : nil,
                    retry: r.stream.retry, maxClientBuffer: r.stream.maxClientBuffer))
        }
        let l = config.limits
        self.init(
            limits: HTTPLimits(maxHeaderBytes: l.maxHeaderBytes, maxHeaderCount: l.maxHeaders),
            maxBodyBytes: UInt64(l.maxBodyBytes), maxConnections: l.maxConnections,
            keepaliveTimeout: l.keepaliveTimeout, headerTimeout: l.headerTimeout, sendTimeout: l.sendTimeout,
            clientBuffer: l.clientBuffer, trustForwarded: false, upstreams: upstreams, routes: routes,
            router: Router(routes: config.routes))
    }
}
