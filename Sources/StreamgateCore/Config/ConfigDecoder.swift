/// Turns a parsed TOML document into a validated `GatewayConfig`, collecting every error.
///
/// Order matters only for cross-references: upstreams and `[redis]` are decoded before routes
/// (routes name an upstream; auth needs the session store). Each table is read through a
/// `ConfigTableReader` that knows its keys, so a typo anywhere is reported with a suggestion.
struct ConfigDecoder {
    let diagnostics: ConfigDiagnostics
    let environment: [String: String]

    static let rootKeys = ["gateway", "listeners", "admin", "limits", "sse", "upstreams", "routes", "redis", "sessions", "auth", "identity"]

    func decode(_ root: TOMLTable) -> GatewayConfig? {
        let top = reader(root, context: "", keys: Self.rootKeys)

        let gateway = decodeGateway(top.subtable("gateway"))
        let listeners = decodeListeners(top)
        let admin = top.subtable("admin").flatMap(decodeAdmin)
        let redis = top.subtable("redis").flatMap(decodeRedis)
        let limits = decodeLimits(top.subtable("limits"), redisConfigured: top.has("redis"), redis: redis)
        let sse = decodeStreamSettings(top.subtable("sse").map { reader($0, context: "[sse]", keys: Self.streamKeys) }, defaults: StreamSettings())
        let upstreams = decodeUpstreams(top)
        let sessions = decodeSessions(top.subtable("sessions"))
        let auth = decodeAuth(top.subtable("auth"))
        let identity = decodeIdentity(top.subtable("identity"))
        let routes = decodeRoutes(top, upstreams: upstreams, sse: sse, limits: limits, redisConfigured: top.has("redis"), auth: auth)

        if let admin, let clash = listeners.first(where: { $0.value.address.conflicts(with: admin.value.address) }) {
            diagnostics.error("admin address \(admin.value.address) conflicts with the listener at line \(clash.position.line)", at: admin.position)
        }

        guard diagnostics.errors.isEmpty else { return nil }
        return GatewayConfig(
            fileName: diagnostics.file, gateway: gateway, listeners: listeners.map(\.value), admin: admin?.value,
            limits: limits, sse: sse, upstreams: upstreams.map(\.value), routes: routes, redis: redis,
            sessions: sessions, auth: auth, identity: identity
        )
    }

    func reader(_ table: TOMLTable, context: String, keys: [String]) -> ConfigTableReader {
        ConfigTableReader(table, context: context, keys: keys, diagnostics: diagnostics, environment: environment)
    }

    // MARK: [gateway]

    private func decodeGateway(_ table: TOMLTable?) -> GatewaySettings {
        var settings = GatewaySettings()
        guard let table else { return settings }
        let r = reader(table, context: "[gateway]", keys: ["workers", "drain_timeout", "access_log", "log_level", "pid_file"])
        if let node = r.node("workers") {
            switch node.value {
            case .integer:
                if let n = r.integer("workers", in: 1...1024) { settings.workers = .count(n.value) }
            case .string:
                guard let s = r.string("workers") else { break }
                if s.text == "auto" {
                    settings.workers = .auto
                } else {
                    r.error("invalid value \(s.quotedForMessage) for 'workers': expected \"auto\" or an integer from 1 to 1024", at: node.position)
                }
            default:
                r.typeError(expected: "\"auto\" or an integer", node)
            }
        }
        if let d = r.duration("drain_timeout", allowZero: true) { settings.drainTimeout = d.value }
        if let log = r.string("access_log") {
            switch log.text {
            case "stdout": settings.accessLog = .stdout
            case "off": settings.accessLog = .off
            case "": r.error("'access_log' must be \"stdout\", \"off\" or a file path", at: log.position)
            default: settings.accessLog = .file(path: log.text)
            }
        }
        if let level = r.choice("log_level", GatewaySettings.LogLevel.allCases.map { ($0.rawValue, $0) }) {
            settings.logLevel = level.value
        }
        if let pid = r.string("pid_file") {
            if pid.text.isEmpty {
                r.error("'pid_file' must be a file path", at: pid.position)
            } else {
                settings.pidFile = pid.text
            }
        }
        return settings
    }

    // MARK: [[listeners]], [admin]

    private func decodeListeners(_ top: ConfigTableReader) -> [Located<ListenerConfig>] {
        guard let tables = arrayOfTables(top, "listeners", required: true) else { return [] }
        var listeners: [Located<ListenerConfig>] = []
        for table in tables {
            let r = reader(table, context: "[[listeners]]", keys: ["address", "tls_cert", "tls_key", "certificates", "trust_forwarded", "proxy_protocol"])
            _ = r.requireKey("address")
            let address = r.string("address").flatMap { listenAddress($0, r) }
            var certificates: [TLSFiles] = []
            if let pair = certificatePair(r, cert: "tls_cert", key: "tls_key") { certificates.append(pair) }
            if r.has("certificates") {
                for sub in arrayOfTables(r, "certificates", required: false) ?? [] {
                    let c = reader(sub, context: "[[listeners.certificates]]", keys: ["cert", "key"])
                    _ = c.requireKey("cert")
                    _ = c.requireKey("key")
                    if let pair = certificatePair(c, cert: "cert", key: "key") { certificates.append(pair) }
                }
            }
            let trusted = decodeTrustedProxies(r)
            let proxyProtocol = r.bool("proxy_protocol")?.value ?? false
            guard let address else { continue }
            if let first = listeners.first(where: { $0.value.address.conflicts(with: address.value) }) {
                r.error("listener address \(address.value) conflicts with the listener at line \(first.position.line)", at: address.position)
                continue
            }
            listeners.append(Located(value: ListenerConfig(address: address.value, certificates: certificates, trustForwarded: trusted,
                                                           proxyProtocol: proxyProtocol),
                                     position: address.position))
        }
        return listeners
    }

    /// A certificate chain and key named together; one without the other is an error.
    private func certificatePair(_ r: ConfigTableReader, cert certKey: String, key keyKey: String) -> TLSFiles? {
        let cert = r.nonEmptyString(certKey), key = r.nonEmptyString(keyKey)
        switch (cert, key) {
        case let (cert?, key?):
            return TLSFiles(certificatePath: cert.text, privateKeyPath: key.text, line: cert.position.line)
        case let (cert?, nil) where !r.has(keyKey):
            r.error("'\(certKey)' is set without '\(keyKey)': set both or neither", at: cert.position)
        case let (nil, key?) where !r.has(certKey):
            r.error("'\(keyKey)' is set without '\(certKey)': set both or neither", at: key.position)
        default:
            break
        }
        return nil
    }

    /// `trust_forwarded = ["10.0.0.0/8", "::1/128"]`: each entry a CIDR block or one address.
    private func decodeTrustedProxies(_ r: ConfigTableReader) -> TrustedProxies {
        guard let list = r.stringArray("trust_forwarded") else { return .none }
        var networks: [IPNetwork] = []
        for s in list.value {
            switch IPNetwork.parse(s.text) {
            case .success(let n):
                if !networks.contains(n) { networks.append(n) }
            case .failure(let e):
                r.error("invalid CIDR \(s.quotedForMessage) in 'trust_forwarded': \(e.reason)", at: s.position)
            }
        }
        return TrustedProxies(networks)
    }

    private func decodeAdmin(_ table: TOMLTable) -> Located<AdminConfig>? {
        let r = reader(table, context: "[admin]", keys: ["address"])
        guard r.requireKey("address"), let s = r.string("address"), let address = listenAddress(s, r) else { return nil }
        return Located(value: AdminConfig(address: address.value), position: address.position)
    }

    private func listenAddress(_ s: ConfigString, _ r: ConfigTableReader) -> Located<ListenAddress>? {
        switch ListenAddress.parse(s.text) {
        case .success(let a): return Located(value: a, position: s.position)
        case .failure(let e):
            r.error("invalid address \(s.quotedForMessage): \(e.reason)", at: s.position)
            return nil
        }
    }

    // MARK: [limits], [sse]

    /// `redisConfigured`: a `[redis]` table is present (`redis` is nil when it has errors,
    /// already reported), which `shared = true` needs.
    private func decodeLimits(_ table: TOMLTable?, redisConfigured: Bool, redis: RedisConfig?) -> LimitsConfig {
        var limits = LimitsConfig()
        guard let table else { return limits }
        let r = reader(table, context: "[limits]", keys: [
            "max_header_bytes", "max_headers", "max_body_bytes", "max_connections",
            "keepalive_timeout", "header_timeout", "send_timeout", "client_buffer",
            "max_streams_per_user", "max_streams_per_tenant", "shared", "lease_ttl", "max_connections_per_ip",
        ])
        if let v = r.size("max_header_bytes") {
            if v.value < 1024 { r.error("'max_header_bytes' must be at least 1KiB", at: v.position) } else { limits.maxHeaderBytes = v.value }
        }
        if let v = r.integer("max_headers", in: 1...10_000) { limits.maxHeaders = v.value }
        if let v = r.size("max_body_bytes", allowZero: true) { limits.maxBodyBytes = v.value }
        if let v = r.integer("max_connections", in: 1...10_000_000) { limits.maxConnections = v.value }
        if let v = r.duration("keepalive_timeout") { limits.keepaliveTimeout = v.value }
        if let v = r.duration("header_timeout") { limits.headerTimeout = v.value }
        if let v = r.duration("send_timeout") { limits.sendTimeout = v.value }
        if let v = r.size("client_buffer") { limits.clientBuffer = v.value }
        if let v = r.integer("max_streams_per_user", in: 0...10_000_000) { limits.maxStreamsPerUser = v.value }
        if let v = r.integer("max_streams_per_tenant", in: 0...10_000_000) { limits.maxStreamsPerTenant = v.value }
        if let v = r.integer("max_connections_per_ip", in: 0...10_000_000) { limits.maxConnectionsPerIP = v.value }
        if let v = r.bool("shared") {
            // Counted in Redis: without it the fleet-wide cap the operator asked for cannot exist.
            if v.value && !redisConfigured {
                r.error("shared = true counts streams in Redis: it needs a [redis] table", at: v.position)
            } else {
                limits.shared = v.value
            }
        }
        if let v = r.duration("lease_ttl") {
            // Renewed every third of it, and a renewal may take the whole Redis timeout: each
            // must end before the next is due, or a slow Redis lets live leases expire.
            let floor = max(.seconds(1), (redis?.timeout ?? .zero) * 3)
            if v.value < .seconds(1) {
                r.error("'lease_ttl' must be at least 1s (leases are renewed every third of it)", at: v.position)
            } else if limits.shared && v.value < floor {
                r.error("'lease_ttl' must be at least 3 x the [redis] timeout (\(DurationSyntax.format(floor))): leases are renewed every third of it, and a renewal may take the whole timeout", at: v.position)
            } else {
                limits.leaseTTL = v.value
            }
        } else if limits.shared, let redis, limits.leaseTTL < redis.timeout * 3 {
            r.error("the default 'lease_ttl' (\(DurationSyntax.format(limits.leaseTTL))) is under 3 x the [redis] timeout: set lease_ttl to at least \(DurationSyntax.format(redis.timeout * 3))", at: r.keyPosition("shared") ?? r.position)
        }
        return limits
    }

    static let streamKeys = ["keepalive", "upstream_idle_timeout", "max_stream_duration", "retry", "max_client_buffer"]

    /// `[sse]` itself, or a route's overrides of it (the same keys, read from the route table).
    func decodeStreamSettings(_ r: ConfigTableReader?, defaults: StreamSettings) -> StreamSettings {
        var s = defaults
        guard let r else { return s }
        // Zero turns the setting off: nil in the value.
        if let v = r.duration("keepalive", allowZero: true) { s.keepalive = v.value > .zero ? v.value : nil }
        if let v = r.duration("upstream_idle_timeout", allowZero: true) { s.upstreamIdleTimeout = v.value > .zero ? v.value : nil }
        if let v = r.duration("max_stream_duration", allowZero: true) { s.maxStreamDuration = v.value > .zero ? v.value : nil }
        if let v = r.duration("retry") { s.retry = v.value }
        if let v = r.size("max_client_buffer") { s.maxClientBuffer = v.value }
        return s
    }

    // MARK: [upstreams.NAME]

    private func decodeUpstreams(_ top: ConfigTableReader) -> [Located<UpstreamConfig>] {
        guard top.requireTable("upstreams", shape: "[upstreams.NAME]"), let all = top.subtable("upstreams") else { return [] }
        if all.entries.isEmpty {
            diagnostics.error("[upstreams] must define at least one upstream, as [upstreams.NAME]", at: all.position)
        }
        var upstreams: [Located<UpstreamConfig>] = []
        for entry in all.entries {
            guard case .table(let table) = entry.node.value else {
                diagnostics.error("expected a table [upstreams.\(entry.key)], found \(entry.node.value.typeName)", at: entry.node.position)
                continue
            }
            let context = "[upstreams.\(entry.key)]"
            let r = reader(table, context: context, keys: ["targets", "connect_timeout", "read_timeout", "pool_size", "idle_timeout",
                                                           "tls", "ca_file", "server_name", "tls_verify", "tls_cert", "tls_key"])
            var upstream = UpstreamConfig(name: entry.key, targets: [])
            if r.requireKey("targets"), let targets = r.stringArray("targets") {
                if targets.value.isEmpty { r.error("'targets' must list at least one \"host:port\"", at: targets.position) }
                for s in targets.value {
                    switch UpstreamTarget.parse(s.text) {
                    case .success(let t): upstream.targets.append(t)
                    case .failure(let e): r.error("invalid target \(s.quotedForMessage): \(e.reason)", at: s.position)
                    }
                }
            }
            if let v = r.duration("connect_timeout") { upstream.connectTimeout = v.value }
            if let v = r.duration("read_timeout") { upstream.readTimeout = v.value }
            if let v = r.integer("pool_size", in: 0...100_000) { upstream.poolSize = v.value }
            if let v = r.duration("idle_timeout") { upstream.idleTimeout = v.value }
            upstream.tls = decodeUpstreamTLS(r)
            upstreams.append(Located(value: upstream, position: table.position))
        }
        return upstreams
    }

    /// `tls = true` and the keys that only mean something with it.
    private func decodeUpstreamTLS(_ r: ConfigTableReader) -> UpstreamConfig.TLS? {
        let on = r.bool("tls")
        let caFile = r.nonEmptyString("ca_file"), serverName = r.nonEmptyString("server_name"), verify = r.bool("tls_verify")
        let client = certificatePair(r, cert: "tls_cert", key: "tls_key")
        guard let on, on.value else {
            // Settings for TLS on a plain upstream are a mistake worth stopping for: the
            // operator believes the link is encrypted (or verified) when it is not.
            for key in ["ca_file", "server_name", "tls_verify", "tls_cert", "tls_key"] {
                if let node = r.node(key) { r.error("'\(key)' needs 'tls = true' on this upstream", at: node.position) }
            }
            return nil
        }
        if let serverName, serverName.text.contains(where: { $0 == " " || $0 == "/" || $0 == ":" }) {
            r.error("'server_name' must be a host name or IP address, found \(serverName.quotedForMessage)", at: serverName.position)
        }
        if let verify, !verify.value, caFile != nil {
            r.error("'ca_file' has no effect with 'tls_verify = false'", at: caFile!.position)
        }
        return UpstreamConfig.TLS(caFile: caFile?.text, serverName: serverName?.text, verify: verify?.value ?? true,
                                  clientCertificate: client, line: on.position.line)
    }

    // MARK: [redis], [sessions], [auth], [identity]

    private func decodeRedis(_ table: TOMLTable) -> RedisConfig? {
        let r = reader(table, context: "[redis]", keys: ["url", "timeout", "connect_timeout"])
        var config: RedisConfig?
        if r.requireKey("url"), let url = r.string("url") {
            switch RedisConfig.parseURL(url.text) {
            case .success(let parts):
                config = RedisConfig(host: parts.host, port: parts.port, user: parts.user, password: parts.password, database: parts.database)
            case .failure(let e):
                // Never echo the URL: it usually carries the password.
                r.error("invalid redis url: \(e.reason); expected redis://[user:password@]host:port/db", at: url.position)
            }
        }
        if let v = r.duration("timeout") { config?.timeout = v.value }
        if let v = r.duration("connect_timeout") { config?.connectTimeout = v.value }
        return config
    }

    private func decodeSessions(_ table: TOMLTable?) -> SessionsConfig {
        var s = SessionsConfig()
        guard let table else { return s }
        let r = reader(table, context: "[sessions]", keys: [
            "key", "format", "cache_ttl", "negative_ttl", "cache_size", "revocation_channel", "recheck_interval", "fields",
        ])
        if let key = r.nonEmptyString("key") {
            if key.text.contains("{sha256}") || key.text.contains("{token}") {
                s.key = key.text
            } else {
                r.error("'key' must contain {sha256} or {token}, or every token would map to the same session", at: key.position)
            }
        }
        if let f = r.choice("format", [("hash", SessionsConfig.Format.hash), ("json", .json)]) { s.format = f.value }
        if let v = r.duration("cache_ttl", allowZero: true) { s.cacheTTL = v.value }
        if let v = r.duration("negative_ttl", allowZero: true) { s.negativeTTL = v.value }
        if let v = r.integer("cache_size", in: 0...100_000_000) { s.cacheSize = v.value }
        if let v = r.nonEmptyString("revocation_channel") { s.revocationChannel = v.text }
        if let v = r.duration("recheck_interval") { s.recheckInterval = v.value }
        if let fields = r.subtable("fields") {
            let f = reader(fields, context: "[sessions.fields]", keys: ["user", "tenant", "expires_at", "kind", "scopes", "origins"])
            if let v = f.nonEmptyString("user") { s.fields.user = v.text }
            if let v = f.nonEmptyString("tenant") { s.fields.tenant = v.text }
            if let v = f.nonEmptyString("expires_at") { s.fields.expiresAt = v.text }
            if let v = f.nonEmptyString("kind") { s.fields.kind = v.text }
            if let v = f.nonEmptyString("scopes") { s.fields.scopes = v.text }
            if let v = f.nonEmptyString("origins") { s.fields.origins = v.text }
        }
        return s
    }

    private func decodeAuth(_ table: TOMLTable?) -> AuthConfig {
        var a = AuthConfig()
        guard let table else { return a }
        let r = reader(table, context: "[auth]", keys: ["api_key_header", "query_param", "max_token_length", "allow_underscore_headers"])
        if let v = headerName("api_key_header", r) { a.apiKeyHeader = v }
        if let v = r.nonEmptyString("query_param") {
            if isQueryParameterName(v.text) { a.queryParam = v.text } else {
                r.error("'query_param' must be letters, digits, '-', '.', '_' or '~'", at: v.position)
            }
        }
        if let v = r.integer("max_token_length", in: 16...65_536) { a.maxTokenLength = v.value }
        if let v = r.bool("allow_underscore_headers") { a.allowUnderscoreHeaders = v.value }
        return a
    }

    private func decodeIdentity(_ table: TOMLTable?) -> IdentityConfig {
        var id = IdentityConfig()
        guard let table else { return id }
        let r = reader(table, context: "[identity]", keys: ["user_header", "tenant_header", "scopes_header", "signing_secret", "signature_header"])
        var names: [(String, String, SourcePosition)] = []
        for (key, path) in [("user_header", \IdentityConfig.userHeader), ("tenant_header", \.tenantHeader),
                            ("scopes_header", \.scopesHeader), ("signature_header", \.signatureHeader)] {
            if let v = headerName(key, r) {
                id[keyPath: path] = v
                if let p = r.node(key)?.position { names.append((key, v, p)) }
            }
        }
        // Two identity values in one header would let one overwrite the other upstream; so would
        // an identity header the forwarding step also sets. Names are compared as upstreams may
        // read them: ignoring case, with `_` as `-` (RFC 3875 §4.1.18).
        for (n, (key, value, position)) in names.enumerated() {
            if let other = names[..<n].first(where: { AuthASCII.headerNamesCollide($0.1, value) }) {
                r.error("'\(key)' uses the same header as '\(other.0)'", at: position)
            } else if let owned = ForwardingHeaders.ownedNames.first(where: { AuthASCII.headerNamesCollide($0, value) }) {
                r.error("'\(key)' names \(owned), which the gateway sets itself on every request", at: position)
            }
        }
        if let secret = r.string("signing_secret") {
            if secret.text.utf8.count < 32 {
                r.error("'signing_secret' must be at least 32 bytes long", at: secret.position)
            } else {
                id.signingSecret = secret.text
            }
        }
        return id
    }

    private func headerName(_ key: String, _ r: ConfigTableReader) -> String? {
        guard let s = r.nonEmptyString(key) else { return nil }
        guard s.text.utf8.allSatisfy(isTokenByte) else {
            r.error("'\(key)' must be a header field name (letters, digits and !#$%&'*+-.^_`|~)", at: s.position)
            return nil
        }
        return s.text
    }

    // MARK: helpers

    /// `[[name]]` tables; reports a missing or wrongly shaped key.
    func arrayOfTables(_ top: ConfigTableReader, _ key: String, required: Bool) -> [TOMLTable]? {
        guard let node = top.node(key) else {
            if required { diagnostics.error("missing required table [[\(key)]]", at: top.position) }
            return nil
        }
        guard case .array(let items) = node.value else {
            diagnostics.error("expected an array of tables [[\(key)]], found \(node.value.typeName)", at: node.position)
            return nil
        }
        if items.isEmpty, required { diagnostics.error("at least one [[\(key)]] is required", at: node.position) }
        var tables: [TOMLTable] = []
        for item in items {
            guard case .table(let t) = item.value else {
                diagnostics.error("expected a table in [[\(key)]], found \(item.value.typeName)", at: item.position)
                continue
            }
            tables.append(t)
        }
        return tables
    }
}

/// RFC 9110 tchar.
func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}

/// Unreserved characters only (RFC 3986), so the name never needs encoding.
func isQueryParameterName(_ s: String) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
    }
}

extension ConfigTableReader {
    /// Reports a missing required table at the enclosing table's position.
    func requireTable(_ key: String, shape: String) -> Bool {
        if has(key) { return true }
        diagnostics.error("missing required table \(shape)", at: position)
        return false
    }
}
