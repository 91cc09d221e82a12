/// CORS for a route with `cors_origins` (Fetch standard, "CORS protocol").
///
/// Responses allow credentials, so the allowed origin is always echoed exactly, never `*`.
/// Origins are compared in normalised form (`WebOrigin`).
///
/// For `cors_origins = "session"`, a preflight cannot be checked against the session
/// (browsers send no credentials on preflight), so any well-formed origin gets a positive
/// preflight; the actual request is then checked against the session's origins by
/// `AuthPolicy` and gets CORS headers only if allowed. The preflight grants nothing but
/// permission to ask.
public struct CORSPolicy: Sendable, Equatable {
    public enum PreflightRefusal: String, Sendable, Equatable {
        case missingOrigin = "missing_origin"
        case originNotAllowed = "origin_not_allowed"
        case methodNotAllowed = "method_not_allowed"
        case headerNotAllowed = "header_not_allowed"
    }

    /// The answer to a preflight: headers for a 204, or a refusal (answer 403 with only
    /// `Vary`, and no `Access-Control-*` headers: the browser then blocks the request).
    public enum Preflight: Sendable, Equatable {
        case allowed(HTTPHeaders)
        case refused(PreflightRefusal)
    }

    public var origins: CORSOrigins
    /// The route's methods (`Access-Control-Request-Method` must be one; case-sensitive).
    public var allowedMethods: [String]
    /// Request headers a page may send: `Authorization`, `Last-Event-ID`, the API-key
    /// header, plus any extras. Compared case-insensitively.
    public var allowedHeaders: [String]
    /// `Access-Control-Max-Age`, seconds.
    public var maxAgeSeconds: Int

    public init(origins: CORSOrigins, allowedMethods: [String] = ["GET"], apiKeyHeader: String = "X-Api-Key",
                extraAllowedHeaders: [String] = [], maxAgeSeconds: Int = 600) {
        self.origins = origins
        self.allowedMethods = allowedMethods
        self.allowedHeaders = ["Authorization", "Last-Event-ID", apiKeyHeader] + extraAllowedHeaders
        self.maxAgeSeconds = maxAgeSeconds
    }

    /// Answers an `OPTIONS` preflight.
    ///
    /// - Parameters:
    ///   - origin: the `Origin` value.
    ///   - requestMethod: `Access-Control-Request-Method`.
    ///   - requestHeaders: members of `Access-Control-Request-Headers` (see `HTTPHeaders.listMembers`).
    public func preflight(origin: String?, requestMethod: String?, requestHeaders: [Substring]) -> Preflight {
        guard let origin else { return .refused(.missingOrigin) }
        guard preflightOriginAllowed(origin) else { return .refused(.originNotAllowed) }
        guard let requestMethod, allowedMethods.contains(requestMethod) else { return .refused(.methodNotAllowed) }
        for name in requestHeaders where !allowedHeaders.contains(where: { asciiCaseInsensitiveEquals($0, String(name)) }) {
            return .refused(.headerNotAllowed)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Access-Control-Allow-Origin", value: origin)
        headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        headers.add(name: "Access-Control-Allow-Methods", value: allowedMethods.joined(separator: ", "))
        headers.add(name: "Access-Control-Allow-Headers", value: allowedHeaders.joined(separator: ", "))
        headers.add(name: "Access-Control-Max-Age", value: String(maxAgeSeconds))
        headers.add(name: "Vary", value: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        return .allowed(headers)
    }

    /// Convenience: reads `Origin`, `Access-Control-Request-Method` and
    /// `Access-Control-Request-Headers` from the preflight's headers.
    public func preflight(headers: HTTPHeaders) -> Preflight {
        preflight(origin: headers.first(name: "Origin"),
                  requestMethod: headers.first(name: "Access-Control-Request-Method"),
                  requestHeaders: headers.listMembers(name: "Access-Control-Request-Headers"))
    }

    /// Headers to add to an actual response: the CORS grant when `origin` is allowed (for
    /// `.session`, by `session`), and `Vary: Origin` always, since the response differs by origin.
    public func responseHeaders(origin: String?, session: SessionRecord?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let origin, isAllowed(origin: origin, session: session) {
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        headers.add(name: "Vary", value: "Origin")
        return headers
    }

    /// Whether an actual request from `origin` may read the response.
    public func isAllowed(origin: String, session: SessionRecord?) -> Bool {
        AuthPolicy.originAllowed(origin, route: RouteAuthPolicy(corsOrigins: origins), session: session)
    }

    private func preflightOriginAllowed(_ origin: String) -> Bool {
        switch origins {
        case .list: isAllowed(origin: origin, session: nil)
        case .session: WebOrigin(origin) != nil
        }
    }
}

extension CORSPolicy {
    /// Adds the CORS response headers to a response's headers. `Vary: Origin` joins any `Vary`
    /// the upstream sent instead of replacing it, so caches keep every dimension they key on.
    public func apply(to headers: inout HTTPHeaders, origin: String?, session: SessionRecord?) {
        for (name, value) in responseHeaders(origin: origin, session: session) {
            guard asciiCaseInsensitiveEquals(name, "Vary") else {
                headers.replaceOrAdd(name: name, value: value)
                continue
            }
            let existing = headers.listMembers(name: "vary")
            if existing.contains(where: { $0 == "*" || asciiCaseInsensitiveEquals(String($0), value) }) { continue }
            headers.replaceOrAdd(name: "Vary", value: (existing.map(String.init) + [value]).joined(separator: ", "))
        }
    }
}
