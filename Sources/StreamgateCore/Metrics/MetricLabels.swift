/// How authentication of one request ended, as `/metrics` (label `outcome`) and the access log
/// (`deny`) name it. Coarser than `DenialReason` on purpose: dashboards and alerts key on these
/// eight values, and a new denial reason maps to one of them here rather than adding a series.
public enum AuthOutcome: Int, CaseIterable, Sendable {
    case ok, missing, invalid, expired, scope, tenant, origin, storeUnavailable

    public var label: String {
        switch self {
        case .ok: "ok"
        case .missing: "missing"
        case .invalid: "invalid"
        case .expired: "expired"
        case .scope: "scope"
        case .tenant: "tenant"
        case .origin: "origin"
        case .storeUnavailable: "store_unavailable"
        }
    }

    /// The one mapping from denial reasons to outcomes.
    public init(_ reason: DenialReason) {
        switch reason {
        case .missingToken: self = .missing
        // A token the gateway cannot use: unparseable, unknown (or revoked), or an API key sent
        // where API keys are refused.
        case .malformedToken, .unknownToken, .apiKeyInQuery: self = .invalid
        case .expiredToken: self = .expired
        case .insufficientScope: self = .scope
        case .tenantMismatch: self = .tenant
        case .originNotAllowed: self = .origin
        case .storeUnavailable: self = .storeUnavailable
        }
    }
}

/// Why a relayed event stream ended, as `/metrics` names it (label `reason`).
public enum StreamEndReason: Int, CaseIterable, Sendable {
    /// The client closed, reset or stopped reading within `send_timeout`.
    case client
    /// The upstream ended its body cleanly.
    case upstreamEnd
    /// The upstream reset, truncated or broke the framing of its body.
    case upstreamError
    /// `upstream_idle_timeout`.
    case idle
    case maxDuration
    case sessionExpired
    case revoked
    /// Graceful drain (SIGTERM), at a boundary or forced at `drain_timeout`.
    case drain
    /// `max_client_buffer` exceeded.
    case slowConsumer
    /// Reserved for limits that end a running stream; no limit does yet (limits refuse new
    /// streams, counted in `streamgate_streams_refused_total`).
    case limit

    public var label: String {
        switch self {
        case .client: "client"
        case .upstreamEnd: "upstream_end"
        case .upstreamError: "upstream_error"
        case .idle: "idle"
        case .maxDuration: "max_duration"
        case .sessionExpired: "session_expired"
        case .revoked: "revoked"
        case .drain: "drain"
        case .slowConsumer: "slow_consumer"
        case .limit: "limit"
        }
    }

    /// The one mapping from the stream timer's reasons.
    public init(_ reason: SSEEndReason) {
        switch reason {
        case .maxDuration: self = .maxDuration
        case .sessionExpired: self = .sessionExpired
        case .revoked: self = .revoked
        case .draining: self = .drain
        case .upstreamIdle: self = .idle
        }
    }
}

/// Response status classes, the `code` label of `streamgate_http_requests_total`.
public enum StatusClass {
    public static let labels = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// Index into `labels`. Statuses are 100...599 (the parser refuses others); anything
    /// outside is clamped rather than trapped on.
    @inline(__always)
    public static func index(_ status: Int) -> Int {
        min(max(status / 100 - 1, 0), 4)
    }
}
