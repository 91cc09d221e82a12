import StreamgateCore
import StreamgateIO

public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension ProxySettings {
    /// Resolves a validated config for the data path. Upstream host names are resolved here,
    /// once, to every address they have (getaddrinfo blocks; the event loops never call it).
    public convenience init(config: GatewayConfig) throws(SettingsError) {
        // Certificates and keys are read here, at start and on every reload: a reload picks
        // up renewed files, and a file that fails to load fails the reload (old config stays).
        var listenerTLS: [TLSServerContext?] = []
        for l in config.listeners {
            guard l.isTLS else { listenerTLS.append(nil); continue }
            do {
                listenerTLS.append(try TLSServerContext(certificates: l.certificates.map {
                    TLSCertificateFiles(certificatePath: $0.certificatePath, privateKeyPath: $0.privateKeyPath)
                }))
            } catch {
                throw SettingsError(description: "\(config.fileName):\(l.certificates[0].line): listener \(l.address): \(error)")
            }
        }
        var upstreams: [Upstream] = []
        for u in config.upstreams {
            var targets: [Upstream.Target] = []
            for t in u.targets {
                do {
                    let host = SocketAddress.splitHostPort(t.description)?.0 ?? t.description
                    targets.append(.init(name: t.description, host: host, addresses: try SocketAddress.resolveAll(t.description)))
                } catch {
                    throw SettingsError(description: "\(config.fileName): upstream '\(u.name)': \(error)")
                }
            }
            var tls: Upstream.TLS?
            if let t = u.tls {
                do {
                    let context = try TLSClientContext(
                        caFile: t.caFile, verifyPeer: t.verify,
                        clientCertificate: t.clientCertificate.map { TLSCertificateFiles(certificatePath: $0.certificatePath, privateKeyPath: $0.privateKeyPath) })
                    tls = Upstream.TLS(context: context, serverName: t.serverName)
                } catch {
                    throw SettingsError(description: "\(config.fileName):\(t.line): upstream '\(u.name)': \(error)")
                }
            }
            upstreams.append(Upstream(name: u.name, targets: targets, connectTimeout: u.connectTimeout,
                                      readTimeout: u.readTimeout, poolSize: u.poolSize, idleTimeout: u.idleTimeout, tls: tls))
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
                    retry: r.stream.retry, maxClientBuffer: r.stream.maxClientBuffer),
                streamLimits: r.streamLimits)
        }
        var auth: AuthRuntime?
        if let r = config.redis {
            let template: SessionKeyTemplate
            do { template = try SessionKeyTemplate(config.sessions.key) } catch {
                throw SettingsError(description: "\(config.fileName): [sessions] key: \(error)")
            }
            let f = config.sessions.fields
            auth = AuthRuntime(
                redis: RedisClientConfig(host: r.host, port: Int(r.port), username: r.user, password: r.password,
                                         database: r.database, commandTimeout: r.timeout, connectTimeout: r.connectTimeout),
                keyTemplate: template, format: config.sessions.format,
                fields: SessionFieldMapping(user: f.user, tenant: f.tenant, expiresAt: f.expiresAt, kind: f.kind,
                                            scopes: f.scopes, origins: f.origins),
                cacheTTL: config.sessions.cacheTTL, negativeTTL: config.sessions.negativeTTL,
                cacheSize: config.sessions.cacheSize, revocationChannel: config.sessions.revocationChannel,
                recheckInterval: config.sessions.recheckInterval,
                extractor: TokenExtractor(apiKeyHeader: config.auth.apiKeyHeader, queryParameter: config.auth.queryParam,
                                          maxTokenLength: config.auth.maxTokenLength))
        }
        let id = config.identity
        let l = config.limits
        var admission = AdmissionSettings()
        admission.maxConnectionsPerIP = l.maxConnectionsPerIP
        admission.sharedStreamLimits = l.shared
        admission.leaseTTL = l.leaseTTL
        self.init(
            limits: HTTPLimits(maxHeaderBytes: l.maxHeaderBytes, maxHeaderCount: l.maxHeaders),
            maxBodyBytes: UInt64(l.maxBodyBytes), maxConnections: l.maxConnections,
            keepaliveTimeout: l.keepaliveTimeout, headerTimeout: l.headerTimeout, sendTimeout: l.sendTimeout,
            clientBuffer: l.clientBuffer,
            listeners: config.listeners.enumerated().map { i, l in
                ListenerPolicy(address: try? SocketAddress.resolve(l.address.description), trustForwarded: l.trustForwarded,
                               proxyProtocol: l.proxyProtocol, tls: listenerTLS[i])
            },
            upstreams: upstreams, routes: routes,
            router: Router(routes: config.routes), auth: auth,
            routeAuth: config.routes.map { RouteAuth(route: $0, apiKeyHeader: config.auth.apiKeyHeader) },
            identity: IdentityHeaders(userHeader: id.userHeader, tenantHeader: id.tenantHeader, scopesHeader: id.scopesHeader,
                                      signatureHeader: id.signatureHeader),
            signingKey: id.signingSecret.map { Array($0.utf8) },
            admission: admission)
    }
}
