/// A route's `auth` setting.
public enum AuthMode: String, Sendable, Equatable {
    /// A valid token is needed.
    case required
    /// Anonymous requests pass; a token, if sent, must be valid.
    case optional
    /// Credentials are not looked at (nor looked up).
    case none
}

/// A route's `cors_origins` setting.
public enum CORSOrigins: Sendable, Equatable {
    /// These origins only.
    case list([WebOrigin])
    /// The origins stored in the session (`allowed_origins`).
    case session
}

/// The auth-related part of a route.
public struct RouteAuthPolicy: Sendable, Equatable {
    public var mode: AuthMode
    /// `query_token`: accept the token from the query (for `EventSource`).
    public var allowQueryToken: Bool
    /// `scopes`: all required.
    public var requiredScopes: [String]
    /// `tenant_param`: this path parameter must equal the session's tenant.
    public var tenantParameter: String?
    /// `cors_origins`; nil when the route does not do CORS (no `Origin` check then).
    public var corsOrigins: CORSOrigins?

    public init(mode: AuthMode = .required, allowQueryToken: Bool = false, requiredScopes: [String] = [],
                tenantParameter: String? = nil, corsOrigins: CORSOrigins? = nil) {
        self.mode = mode
        self.allowQueryToken = allowQueryToken
        self.requiredScopes = requiredScopes
        self.tenantParameter = tenantParameter
        self.corsOrigins = corsOrigins
    }

    /// Whether an anonymous request can ever pass: scopes and tenant binding need an identity.
    var needsIdentity: Bool {
        mode == .required || !requiredScopes.isEmpty || tenantParameter != nil
    }
}

/// What the request presented, once extraction and (if needed) the session lookup are done.
public enum PresentedCredential: Sendable, Equatable {
    /// No token anywhere.
    case missing
    /// Refused by `TokenExtractor` before any lookup.
    case malformed(MalformedTokenReason)
    /// No session for the token (negative cache, absent key, or a record that failed validation).
    case unknown
    /// A session was found.
    case session(SessionRecord, source: TokenSource)
}

/// The authenticated caller, as handed to the upstream request builder.
public struct Identity: Sendable, Equatable {
    public var session: SessionRecord
    public var tokenSource: TokenSource

    public init(session: SessionRecord, tokenSource: TokenSource) {
        self.session = session
        self.tokenSource = tokenSource
    }

    public var userID: String { session.userID }
    public var tenantID: String { session.tenantID }
    public var scopes: [String] { session.scopes }

    /// Responses to a request authenticated from the query must not be stored anywhere the
    /// URL (and so the token) is a cache key (RFC 6750 §2.3): the caller adds
    /// `Cache-Control: no-store` when this is true.
    public var requiresNoStore: Bool { tokenSource == .query }
}

/// Why a request was refused. Logs and metrics group these as `AuthOutcome`; the client is
/// told the reason in words (`AuthDenial.errorDescription`), never any part of the token.
public enum DenialReason: String, Sendable, Equatable {
    case malformedToken = "malformed_token"
    case missingToken = "missing_token"
    case unknownToken = "unknown_token"
    case expiredToken = "expired_token"
    case apiKeyInQuery = "api_key_in_query"
    case insufficientScope = "insufficient_scope"
    case tenantMismatch = "tenant_mismatch"
    case originNotAllowed = "origin_not_allowed"
    case storeUnavailable = "store_unavailable"
}

/// A complete refusal: status, headers and body, ready to serialise. Never carries any part
/// of the token.
public struct AuthDenial: Error, Sendable, Equatable {
    public var status: Int
    public var reason: DenialReason
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, `unauthorized`, `forbidden`
    /// or `temporarily_unavailable`: what the JSON body says.
    public var errorCode: String
    /// Why, in words: fixed text per reason (RFC 6750 `error_description` characters only),
    /// never anything taken from the request.
    public var errorDescription: String
    /// `WWW-Authenticate`, `Cache-Control: no-store`, `Content-Type`, and `Retry-After` for 503.
    public var headers: HTTPHeaders
    /// `{"error":"<errorCode>","error_description":"<errorDescription>"}`.
    public var body: String

    /// The status and code as an `HTTPError`. Auth refusals leave the byte stream intact,
    /// so the connection may be kept.
    public var httpError: HTTPError { HTTPError(status: status, reason: errorCode, closeConnection: false) }

    /// The `WWW-Authenticate` value, if any.
    public var wwwAuthenticate: String? { headers.first(name: "WWW-Authenticate") }
}

/// The result of `AuthPolicy.decide`.
public enum AuthDecision: Sendable, Equatable {
    /// Forward; nil identity for anonymous requests (auth `optional` or `none`).
    case allow(Identity?)
    case deny(AuthDenial)
}

/// Turns a presented credential and a route's policy into allow or deny. Pure: the clock
/// and the request's facts are arguments.
///
/// Statuses and challenges (RFC 6750 §3, REFERENCES.md):
///
/// | case | status | `WWW-Authenticate` | body `error` |
/// |---|---|---|---|
/// | malformed (bad charset, two tokens...) | 400 | `Bearer realm="r", error="invalid_request", error_description="..."` | `invalid_request` |
/// | missing on a route that needs identity | 401 | `Bearer realm="r"` (§3.1: no error information when no credentials were sent) | `unauthorized` |
/// | unknown, expired, API key via query | 401 | `Bearer realm="r", error="invalid_token", error_description="..."` | `invalid_token` |
/// | missing scope | 403 | `Bearer realm="r", error="insufficient_scope", error_description="...", scope="..."` | `insufficient_scope` |
/// | tenant or origin mismatch | 403 | `Bearer realm="r", error_description="..."` (no RFC 6750 code fits) | `forbidden` |
///
/// Every body also carries `error_description`, a fixed sentence naming the reason (tenant
/// mismatch: "the token's tenant does not match the route"), so a client or an operator can
/// tell which check failed; none carries any part of the token. Check order: token validity,
/// then scopes, tenant, origin. 401 and 403 are final answers for `EventSource`, as intended.
public enum AuthPolicy {
    public static let defaultRealm = "streamgate"

    /// - Parameters:
    ///   - route: the matched route's policy.
    ///   - credential: what the request presented (with the session when one was found).
    ///   - origin: the request's `Origin` value, if any.
    ///   - pathParameters: the router's captures (for `tenant_param`).
    ///   - wallNow: unix seconds; a session is expired when `wallNow >= expiresAt`.
    public static func decide(
        route: RouteAuthPolicy, credential: PresentedCredential, origin: String?,
        pathParameters: [String: String], wallNow: Int64, realm: String = defaultRealm
    ) -> AuthDecision {
        if route.mode == .none {
            if case .list = route.corsOrigins, let origin, !originAllowed(origin, route: route, session: nil) {
                return .deny(forbidden(.originNotAllowed, route: route, realm: realm))
            }
            return .allow(nil)
        }

        let session: SessionRecord
        let source: TokenSource
        switch credential {
        case .malformed(let why):
            let text = description(of: why)
            return .deny(denial(400, .malformedToken, code: "invalid_request", description: text,
                                challenge: challenge(realm: realm, error: "invalid_request", description: text)))
        case .missing:
            if route.needsIdentity {
                return .deny(denial(401, .missingToken, code: "unauthorized", description: description(of: .missingToken),
                                    challenge: challenge(realm: realm)))
            }
            if let origin, route.corsOrigins != nil, !originAllowed(origin, route: route, session: nil) {
                return .deny(forbidden(.originNotAllowed, route: route, realm: realm))
            }
            return .allow(nil)
        case .unknown:
            return .deny(invalidToken(.unknownToken, realm: realm))
        case .session(let record, let tokenSource):
            session = record
            source = tokenSource
        }

        // API keys are long-lived: one seen in a URL is treated as no key at all, so it
        // cannot be used from there (and the 401 does not say that it exists).
        if source == .query && session.kind == .apiKey {
            return .deny(invalidToken(.apiKeyInQuery, realm: realm))
        }
        if session.isExpired(wallNow: wallNow) {
            return .deny(invalidToken(.expiredToken, realm: realm))
        }
        for scope in route.requiredScopes where !session.scopes.contains(scope) {
            return .deny(forbidden(.insufficientScope, route: route, realm: realm))
        }
        if let parameter = route.tenantParameter {
            // A missing capture is a route/config mismatch: fail closed.
            guard let tenant = pathParameters[parameter], tenant.utf8.elementsEqual(session.tenantID.utf8) else {
                return .deny(forbidden(.tenantMismatch, route: route, realm: realm))
            }
        }
        if let origin, route.corsOrigins != nil, !originAllowed(origin, route: route, session: session) {
            return .deny(forbidden(.originNotAllowed, route: route, realm: realm))
        }
        return .allow(Identity(session: session, tokenSource: source))
    }

    /// 503 for a token that is not cached while the session store is unreachable: fail
    /// closed, but tell the client it may retry.
    public static func storeUnavailable(retryAfterSeconds: Int) -> AuthDenial {
        var d = denial(503, .storeUnavailable, code: "temporarily_unavailable", description: description(of: .storeUnavailable),
                       challenge: nil)
        d.headers.add(name: "Retry-After", value: String(max(0, retryAfterSeconds)))
        return d
    }

    /// Whether `origin` (an `Origin` header value) passes the route's `cors_origins`.
    /// Routes without CORS accept any origin; `null` and unparseable origins never pass.
    public static func originAllowed(_ origin: String, route: RouteAuthPolicy, session: SessionRecord?) -> Bool {
        guard let corsOrigins = route.corsOrigins else { return true }
        guard let parsed = WebOrigin(origin) else { return false }
        switch corsOrigins {
        case .list(let allowed): return allowed.contains(parsed)
        case .session:
            guard let session else { return false }
            let serialized = parsed.serialized
            return session.allowedOrigins.contains(serialized)
        }
    }

    // MARK: - Responses

    private static func invalidToken(_ reason: DenialReason, realm: String) -> AuthDenial {
        let text = description(of: reason)
        return denial(401, reason, code: "invalid_token", description: text,
                      challenge: challenge(realm: realm, error: "invalid_token", description: text))
    }

    /// 403. `insufficient_scope` (RFC 6750 §3.1) only for a missing scope; a tenant or origin
    /// mismatch is not a scope problem, and RFC 6750 has no code for it: `forbidden` in the
    /// body, and a challenge that says why without an `error` code.
    private static func forbidden(_ reason: DenialReason, route: RouteAuthPolicy, realm: String) -> AuthDenial {
        let text = description(of: reason)
        if reason == .insufficientScope {
            let scope = route.requiredScopes.isEmpty ? nil : route.requiredScopes.joined(separator: " ")
            return denial(403, reason, code: "insufficient_scope", description: text,
                          challenge: challenge(realm: realm, error: "insufficient_scope", description: text, scope: scope))
        }
        return denial(403, reason, code: "forbidden", description: text, challenge: challenge(realm: realm, description: text))
    }

    private static func denial(_ status: Int, _ reason: DenialReason, code: String, description: String, challenge: String?) -> AuthDenial {
        var headers = HTTPHeaders()
        if let challenge { headers.add(name: "WWW-Authenticate", value: challenge) }
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Type", value: "application/json")
        var body: [UInt8] = []
        body.append(contentsOf: #"{"error":"#.utf8)
        JSON.appendQuoted(code, to: &body)
        body.append(contentsOf: #","error_description":"#.utf8)
        JSON.appendQuoted(description, to: &body)
        body.append(UInt8(ascii: "}"))
        return AuthDenial(status: status, reason: reason, errorCode: code, errorDescription: description, headers: headers,
                          body: String(decoding: body, as: UTF8.self))
    }

    /// The `error_description` for a denial: one fixed sentence per reason. RFC 6750 §3 allows
    /// only %x20-21 / %x23-5B / %x5D-7E there (no quote, no backslash); a test holds every
    /// sentence to that.
    public static func description(of reason: DenialReason) -> String {
        switch reason {
        case .malformedToken: "the access token is malformed"
        case .missingToken: "no access token was presented"
        case .unknownToken: "the access token is unknown or revoked"
        case .expiredToken: "the access token has expired"
        case .apiKeyInQuery: "API keys are not accepted in the query string"
        case .insufficientScope: "the token lacks a scope this route requires"
        case .tenantMismatch: "the token's tenant does not match the route"
        case .originNotAllowed: "the request's Origin is not allowed on this route"
        case .storeUnavailable: "the session store is unavailable; retry later"
        }
    }

    /// A malformed credential, more precisely: what the client got wrong in its request.
    public static func description(of reason: MalformedTokenReason) -> String {
        switch reason {
        case .repeated: "more than one access token was presented"
        case .conflicting: "the Authorization header and the API key header carry different tokens"
        case .empty: "the access token is empty"
        case .tooLong: "the access token is too long"
        case .invalidCharacters: "the access token has characters outside the RFC 6750 token syntax"
        case .badAuthorizationSyntax: "the Authorization header is not of the form 'Bearer <token>'"
        }
    }

    /// `Bearer realm="r"[, error="e"][, error_description="d"][, scope="s"]` (RFC 6750 §3).
    static func challenge(realm: String, error: String? = nil, description: String? = nil, scope: String? = nil) -> String {
        var value = "Bearer realm=" + quotedString(realm)
        if let error { value += ", error=" + quotedString(error) }
        if let description { value += ", error_description=" + quotedString(description) }
        if let scope { value += ", scope=" + quotedString(scope) }
        return value
    }

    /// RFC 9110 §5.6.4 quoted-string; control characters (never valid there) are dropped.
    static func quotedString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"", "\\":
                out.unicodeScalars.append("\\")
                out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                continue
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
