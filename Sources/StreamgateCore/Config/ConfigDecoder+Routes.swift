/// `[[routes]]`: each route on its own, then the table as a whole (names, clashes).
extension ConfigDecoder {
    static let routeKeys = [
        "name", "host", "path", "path_prefix", "methods", "upstream", "strip_prefix", "rewrite_prefix",
        "connect_timeout", "read_timeout", "sse", "auth", "query_token", "tenant_param", "scopes",
        "cors_origins", "forward_authorization", "last_event_id_param", "session_end_event", "raw_path",
        "max_streams", "max_streams_per_user", "max_streams_per_tenant",
        "allow_underscore_headers",
    ] + streamKeys

    /// A decoded route with the positions the table-wide checks point at.
    struct DecodedRoute {
        var config: Route
        var namePosition: SourcePosition
        var pathPosition: SourcePosition
    }

    func decodeRoutes(
        _ top: ConfigTableReader, upstreams: [Located<UpstreamConfig>], sse: StreamSettings, limits: LimitsConfig,
        redisConfigured: Bool, auth: AuthConfig
    ) -> [Route] {
        guard let tables = arrayOfTables(top, "routes", required: true) else { return [] }
        // A route that fails to decode fails the whole config, so on success the table
        // position is the route's position in `GatewayConfig.routes`.
        let decoded = tables.enumerated().compactMap { index, table in
            decodeRoute(table, index: index, upstreams: upstreams, sse: sse, limits: limits, redisConfigured: redisConfigured, auth: auth)
        }
        checkRouteTable(decoded)
        return decoded.map(\.config)
    }

    private func decodeRoute(
        _ table: TOMLTable, index: Int, upstreams: [Located<UpstreamConfig>], sse: StreamSettings, limits: LimitsConfig,
        redisConfigured: Bool, auth authConfig: AuthConfig
    ) -> DecodedRoute? {
        let r = reader(table, context: "[routes]", keys: Self.routeKeys)
        func fail(_ message: String, at position: SourcePosition) { r.error(message, at: position) }

        let name = r.requireKey("name") ? r.nonEmptyString("name") : nil

        var host: RouteHost?
        if let h = r.string("host") {
            if let parsed = RouteHost(parsing: h.text) { host = parsed } else {
                fail("invalid host \(h.quotedForMessage): expected a host name like \"api.example.com\" or \"*.example.com\" (no port)", at: h.position)
            }
        }

        // Exactly one of path / path_prefix.
        var path: RoutePath?
        var pathPosition = table.position
        let exact = r.string("path"), prefix = r.string("path_prefix")
        switch (exact, prefix) {
        case (nil, nil):
            // When either key is present its type error is already reported.
            if !r.has("path") && !r.has("path_prefix") {
                fail("missing required key 'path' or 'path_prefix' in [routes]", at: table.position)
            }
        case (_?, let p?):
            fail("set either 'path' or 'path_prefix', not both", at: r.keyPosition("path_prefix") ?? p.position)
        case (let e?, nil):
            pathPosition = e.position
            switch RoutePath.parsePath(e.text) {
            case .success(let p): path = p
            case .failure(let err): fail("invalid path \(e.quotedForMessage): \(err.reason)", at: e.position)
            }
        case (nil, let p?):
            pathPosition = p.position
            switch RoutePath.parsePrefix(p.text) {
            case .success(let parsed): path = parsed
            case .failure(let err): fail("invalid path_prefix \(p.quotedForMessage): \(err.reason)", at: p.position)
            }
        }
        let isPrefix = prefix != nil

        let methods = decodeMethods(r, fail: fail)

        var upstream: UpstreamConfig?
        var upstreamIndex = 0
        let upstreamName = r.requireKey("upstream") ? r.nonEmptyString("upstream") : nil
        if let u = upstreamName {
            if let i = upstreams.firstIndex(where: { $0.value.name == u.text }) {
                upstreamIndex = i
                upstream = upstreams[i].value
            } else {
                let hint = EditDistance.hint(for: u.text, among: upstreams.map(\.value.name))
                fail("unknown upstream \(u.quotedForMessage)\(hint)", at: u.position)
            }
        }

        var rewrite = PathRewrite.none
        let strip = r.bool("strip_prefix"), replacement = r.string("rewrite_prefix")
        if let strip, !isPrefix {
            fail("'strip_prefix' only applies to routes with 'path_prefix'", at: r.keyPosition("strip_prefix") ?? strip.position)
        }
        if let replacement, !isPrefix {
            fail("'rewrite_prefix' only applies to routes with 'path_prefix'", at: r.keyPosition("rewrite_prefix") ?? replacement.position)
        }
        if let strip, let replacement, isPrefix, strip.value {
            fail("set either 'strip_prefix' or 'rewrite_prefix', not both", at: r.keyPosition("rewrite_prefix") ?? replacement.position)
        } else if let replacement, isPrefix {
            switch RoutePath.parsePrefix(replacement.text) {
            case .success: rewrite = .replacePrefix(replacement.text)
            case .failure(let err): fail("invalid rewrite_prefix \(replacement.quotedForMessage): \(err.reason)", at: replacement.position)
            }
        } else if strip?.value == true, isPrefix {
            rewrite = .stripPrefix
        }

        var rawPath = false
        if let raw = r.bool("raw_path"), raw.value {
            // The prefix matched the canonical path; the raw bytes may not even contain it.
            if rewrite != .none {
                fail("'raw_path' forwards the path as received and cannot be combined with 'strip_prefix' or 'rewrite_prefix'",
                     at: r.keyPosition("raw_path") ?? raw.position)
            } else {
                rawPath = true
            }
        }
        let connectTimeout = r.duration("connect_timeout")?.value ?? upstream?.connectTimeout ?? UpstreamConfig.defaultConnectTimeout
        let readTimeout = r.duration("read_timeout")?.value ?? upstream?.readTimeout ?? UpstreamConfig.defaultReadTimeout
        let forceStream = r.bool("sse")?.value ?? false
        let stream = decodeStreamSettings(r, defaults: sse)

        // Auth: the default follows the presence of the session store, so adding [redis]
        // closes every route that does not say otherwise (fail closed).
        var policy = RouteAuthPolicy(mode: redisConfigured ? .required : .none)
        if let mode = r.choice("auth", [("required", AuthMode.required), ("optional", .optional), ("none", .none)]) {
            if mode.value != .none && !redisConfigured {
                fail("auth = \"\(mode.value.rawValue)\" needs a [redis] section (the session store)", at: mode.position)
            } else {
                policy.mode = mode.value
            }
        }
        let authless = policy.mode == .none
        func needsAuth(_ key: String, _ position: SourcePosition) {
            fail("'\(key)' has no effect with auth = \"none\"", at: position)
        }

        if let q = r.bool("query_token") {
            if q.value && authless { needsAuth("query_token", q.position) } else { policy.allowQueryToken = q.value }
        }
        if let t = r.nonEmptyString("tenant_param") {
            if authless { needsAuth("tenant_param", t.position) }
            let params: [String]
            if case .pattern(let pattern)? = path { params = pattern.parameterNames } else { params = [] }
            if params.contains(t.text) {
                policy.tenantParameter = t.text
            } else if path != nil {
                let hint = EditDistance.hint(for: t.text, among: params)
                fail("tenant_param '\(t.text)' is not a {param} of this route's path\(hint)", at: t.position)
            }
        }
        if let scopes = r.stringArray("scopes") {
            if authless && !scopes.value.isEmpty { needsAuth("scopes", scopes.position) }
            for s in scopes.value where s.text.isEmpty || s.text.unicodeScalars.contains(where: { $0 == " " || $0.properties.isWhitespace }) {
                fail("scope \(s.quotedForMessage) must be non-empty and contain no whitespace", at: s.position)
            }
            policy.requiredScopes = scopes.value.map(\.text)
        }
        policy.corsOrigins = decodeCORS(r, authless: authless, fail: fail)
        var routeAuth = RouteAuth(policy: policy, allowUnderscoreHeaders: authConfig.allowUnderscoreHeaders)
        routeAuth.cors = policy.corsOrigins.map {
            CORSPolicy(origins: $0, allowedMethods: methods ?? ["GET"], apiKeyHeader: authConfig.apiKeyHeader)
        }
        routeAuth.forwardAuthorization = r.bool("forward_authorization")?.value ?? false
        if let p = r.nonEmptyString("last_event_id_param") {
            if !isQueryParameterName(p.text) {
                fail("'last_event_id_param' must be letters, digits, '-', '.', '_' or '~'", at: p.position)
            } else if p.text == authConfig.queryParam {
                fail("'last_event_id_param' is the token parameter ([auth] query_param)", at: p.position)
            } else {
                routeAuth.lastEventIDParam = p.text
            }
        }
        if let u = r.bool("allow_underscore_headers") {
            if authless { needsAuth("allow_underscore_headers", u.position) } else { routeAuth.allowUnderscoreHeaders = u.value }
        }
        if let e = r.nonEmptyString("session_end_event") {
            if authless { needsAuth("session_end_event", e.position) }
            if e.text.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
                fail("'session_end_event' must be a single line", at: e.position)
            } else {
                routeAuth.sessionEndEvent = e.text
            }
        }

        // Stream limits: [limits] defaults, overridden per route; per user and per tenant need
        // an identity, so routes without auth only have their own total.
        var streamLimits = StreamLimits()
        streamLimits.perRoute = r.integer("max_streams", in: 0...10_000_000)?.value ?? 0
        streamLimits.perUser = authless ? 0 : limits.maxStreamsPerUser
        streamLimits.perTenant = authless ? 0 : limits.maxStreamsPerTenant
        for (key, keyPath) in [("max_streams_per_user", \StreamLimits.perUser), ("max_streams_per_tenant", \StreamLimits.perTenant)] {
            guard let v = r.integer(key, in: 0...10_000_000) else { continue }
            if authless && v.value > 0 { needsAuth(key, v.position) } else { streamLimits[keyPath: keyPath] = v.value }
        }

        let config = Route(
            name: name?.text ?? "", index: index, host: host, path: path ?? .exact("/"), methods: methods,
            upstream: upstreamName?.text ?? "", upstreamIndex: upstreamIndex, rewrite: rewrite, rawPath: rawPath,
            connectTimeout: connectTimeout, readTimeout: readTimeout, forceStream: forceStream, stream: stream,
            auth: routeAuth, streamLimits: streamLimits)

        // A route with other mistakes still takes part in the name and clash checks.
        guard name != nil, path != nil else { return nil }
        return DecodedRoute(config: config, namePosition: name?.position ?? table.position, pathPosition: pathPosition)
    }

    private func decodeMethods(_ r: ConfigTableReader, fail: (String, SourcePosition) -> Void) -> [String]? {
        guard let list = r.stringArray("methods") else { return nil }
        if list.value.isEmpty {
            fail("'methods' must not be empty (omit it to allow every method)", list.position)
            return nil
        }
        var methods: [String] = []
        for m in list.value {
            let isToken = m.text.utf8.allSatisfy(isTokenByte) && !m.text.isEmpty
            if !isToken {
                fail("invalid method \(m.quotedForMessage): expected an HTTP method token like \"GET\"", m.position)
            } else if m.text.uppercased() != m.text {
                fail("method \(m.quotedForMessage) must be uppercase (\"\(m.text.uppercased())\"): methods are case-sensitive", m.position)
            } else if methods.contains(m.text) {
                fail("method \(m.quotedForMessage) is listed twice", m.position)
            } else {
                methods.append(m.text)
            }
        }
        return methods
    }

    /// nil: no CORS on this route.
    private func decodeCORS(_ r: ConfigTableReader, authless: Bool, fail: (String, SourcePosition) -> Void) -> CORSOrigins? {
        guard let node = r.node("cors_origins") else { return nil }
        if case .string = node.value {
            guard let s = r.string("cors_origins") else { return nil }
            guard s.text == "session" else {
                fail("invalid cors_origins \(s.quotedForMessage): expected \"session\" or an array of origins", s.position)
                return nil
            }
            if authless { fail("cors_origins = \"session\" needs auth (the origins come from the session)", s.position) }
            return .session
        }
        guard let list = r.stringArray("cors_origins") else { return nil }
        if list.value.isEmpty {
            fail("'cors_origins' must not be empty (omit it to disable CORS)", list.position)
            return nil
        }
        var origins: [WebOrigin] = []
        for o in list.value {
            if let normalized = normalizedOrigin(o.text), let origin = WebOrigin(normalized) {
                origins.append(origin)
            } else {
                fail("invalid origin \(o.quotedForMessage): expected scheme://host[:port] with no path, like \"https://app.example.com\"", o.position)
            }
        }
        return .list(origins)
    }

    /// `https://App.Example.com:8443` -> `https://app.example.com:8443`; nil if not an origin.
    private func normalizedOrigin(_ text: String) -> String? {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https://" } else if lower.hasPrefix("http://") { scheme = "http://" } else { return nil }
        let authority = String(lower.dropFirst(scheme.count))
        guard !authority.isEmpty, !authority.contains("/") else { return nil }
        if authority.hasPrefix("[") || authority.contains(":") {
            guard case .success = UpstreamTarget.parse(authority) else { return nil }
        } else {
            guard NetworkAddressSyntax.isHostName(authority) || NetworkAddressSyntax.isIPv4(authority), !authority.hasSuffix(".") else { return nil }
        }
        return lower
    }

    // MARK: table-wide checks

    /// Duplicate names, and routes that can never match because an earlier one claims exactly
    /// the same requests (same host, same path/prefix/pattern shape, overlapping methods).
    private func checkRouteTable(_ routes: [DecodedRoute]) {
        for (j, later) in routes.enumerated() {
            if let first = routes[..<j].first(where: { $0.config.name == later.config.name }) {
                diagnostics.error("duplicate route name '\(later.config.name)' (first defined at line \(first.namePosition.line))", at: later.namePosition)
            }
            guard let earlier = routes[..<j].first(where: { Self.shadows($0.config, later.config) }) else { continue }
            let what: String
            switch later.config.path {
            case .exact: what = "the same path"
            case .pattern: what = "a path pattern of the same shape"
            case .prefix: what = "the same path_prefix"
            }
            diagnostics.error(
                "route '\(later.config.name)' can never match: route '\(earlier.config.name)' (line \(earlier.pathPosition.line)) has \(what), host and overlapping methods",
                at: later.pathPosition)
        }
    }

    static func shadows(_ a: Route, _ b: Route) -> Bool {
        guard a.host == b.host else { return false }
        switch (a.path, b.path) {
        case let (.exact(x), .exact(y)), let (.prefix(x), .prefix(y)):
            guard x == y else { return false }
        case let (.pattern(x), .pattern(y)):
            guard x.shape == y.shape else { return false }
        default:
            return false
        }
        guard let ma = a.methods, let mb = b.methods else { return true }
        return ma.contains { b.allows(method: $0) } || mb.contains { a.allows(method: $0) }
    }
}
