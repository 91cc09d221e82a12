import StreamgateCore
import StreamgateIO

public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension ProxySettings {
    /// Derives from a validated config what the data path needs beyond it. Upstream host names
    /// are resolved here, once, to every address they have (getaddrinfo blocks; the event
    /// loops never call it).
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
            upstreams.append(Upstream(config: u, targets: targets, tls: tls))
        }
        var auth: AuthRuntime?
        if let redis = config.redis {
            do { auth = try AuthRuntime(redis: redis, sessions: config.sessions, tokens: config.auth.tokens) } catch {
                throw SettingsError(description: "\(config.fileName): [sessions] key: \(error)")
            }
        }
        let listeners = config.listeners.enumerated().map { i, l in
            ListenerPolicy(config: l, address: try? SocketAddress.resolve(l.address.description), tls: listenerTLS[i])
        }
        self.init(config: config, listeners: listeners, upstreams: upstreams, auth: auth)
    }
}
