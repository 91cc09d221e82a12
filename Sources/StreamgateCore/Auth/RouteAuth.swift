/// A route's auth settings as the request path applies them: who may pass (`policy`), the
/// CORS answers, and what of the client's credentials and stream state goes upstream.
public struct RouteAuth: Sendable, Equatable {
    /// `auth`, `query_token`, `scopes`, `tenant_param`, `cors_origins`.
    public var policy: RouteAuthPolicy
    /// Built from `cors_origins`, the route's methods and `[auth] api_key_header`; nil = no CORS.
    public var cors: CORSPolicy?
    /// `forward_authorization`: send the client's `Authorization` header upstream (it is
    /// removed by default).
    public var forwardAuthorization: Bool
    /// `last_event_id_param`: query parameter whose value is sent upstream as `Last-Event-ID`
    /// (for clients that reconnect by URL); the parameter itself is removed from the target.
    public var lastEventIDParam: String?
    /// `session_end_event`: event name written (as `event: NAME` with empty data) before a
    /// stream ends because its session expired, so clients can tell "log in again" from a
    /// network drop.
    public var sessionEndEvent: String?
    /// `allow_underscore_headers` (route, else `[auth]`).
    public var allowUnderscoreHeaders: Bool

    public init(policy: RouteAuthPolicy = RouteAuthPolicy(mode: .none), cors: CORSPolicy? = nil, forwardAuthorization: Bool = false,
                lastEventIDParam: String? = nil, sessionEndEvent: String? = nil, allowUnderscoreHeaders: Bool = false) {
        self.policy = policy; self.cors = cors; self.forwardAuthorization = forwardAuthorization
        self.lastEventIDParam = lastEventIDParam; self.sessionEndEvent = sessionEndEvent
        self.allowUnderscoreHeaders = allowUnderscoreHeaders
    }

    public var mode: AuthMode { policy.mode }

    /// Whether a request carrying a header name with `_` is refused (400) on this route: on
    /// routes that authenticate, unless allowed. `_` is a valid name character (RFC 9110 §5.1),
    /// but CGI-style stacks fold `-` and `_` together (RFC 3875 §4.1.18), so such a name can
    /// alias one the upstream trusts. The gateway drops aliases of the names it owns anyway;
    /// refusing the rest closes the same hole for headers an upstream trusts that the gateway
    /// does not know about, where it matters most: on requests that carry an identity.
    public var refusesUnderscoreHeaders: Bool { policy.mode != .none && !allowUnderscoreHeaders }
}
