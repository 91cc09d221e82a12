/// Every way an upstream can fail an exchange, mapped once to what the client gets (status and
/// error code, when no response head was sent yet), what the access log records (`outcome`) and
/// whether the request may go to another address.
public enum UpstreamFailure: Equatable, Sendable {
    /// No socket could be started (descriptor limit, no route to the address family).
    case socketUnavailable
    case connectRefused(errno: Int32)
    case connectTimeout
    /// The TLS handshake failed: a refused certificate, no common version or cipher.
    case tlsHandshakeFailed(reason: String)
    /// TLS broke on an established connection (a corrupt record).
    case tlsBroken(reason: String)
    /// Reset after connecting, before a response head.
    case reset(errno: Int32)
    case closedBeforeResponse
    case responseTimeout
    case badResponseHead
    /// A 101 or other protocol switch nobody asked for.
    case unexpectedUpgrade
    /// More interim (1xx) heads than `maxInterimResponses`.
    case interimFlood
    /// Transfer codings other than chunked for an HTTP/1.0 client (RFC 9112 §6.1 gives it no
    /// way to receive them).
    case transferCodingForHTTP10
    /// Body framing broken mid-response (bad chunk size, ...).
    case badFraming
    /// Closed before the body's declared end.
    case truncated
    case idleMidResponse
    case resetMidResponse

    /// The status a client gets when nothing of the response was sent yet.
    public var status: Int {
        switch self {
        case .connectTimeout, .responseTimeout, .idleMidResponse: 504
        default: 502
        }
    }

    /// The `error` member of the gateway's JSON error body.
    public var errorCode: String { status == 504 ? "gateway_timeout" : "bad_gateway" }

    /// The access log's `outcome`.
    public var outcome: String {
        switch self {
        case .socketUnavailable: "upstream_socket_error"
        case .connectRefused: "upstream_connect_failed"
        case .connectTimeout: "upstream_connect_timeout"
        case .tlsHandshakeFailed: "upstream_tls_handshake_failed"
        case .tlsBroken: "upstream_tls_error"
        case .reset: "upstream_reset"
        case .closedBeforeResponse: "upstream_closed"
        case .responseTimeout: "upstream_read_timeout"
        case .badResponseHead: "upstream_bad_response"
        case .unexpectedUpgrade: "upstream_unexpected_upgrade"
        case .interimFlood: "upstream_interim_flood"
        case .transferCodingForHTTP10: "upstream_transfer_coding"
        case .badFraming: "upstream_bad_framing"
        case .truncated: "upstream_truncated"
        case .idleMidResponse: "upstream_idle_timeout"
        case .resetMidResponse: "upstream_reset"
        }
    }

    /// The error log's wording, after "upstream <address> ".
    public var logDescription: String {
        switch self {
        case .socketUnavailable: "could not be given a socket"
        case .connectRefused(let e): "refused (errno \(e))"
        case .connectTimeout: "timed out connecting"
        case .tlsHandshakeFailed(let why): "TLS failed: \(why)"
        case .tlsBroken(let why): "TLS broke: \(why)"
        case .reset(let e): "reset (errno \(e))"
        case .closedBeforeResponse: "closed before responding"
        case .responseTimeout: "timed out waiting for a response"
        case .badResponseHead: "sent a malformed response head"
        case .unexpectedUpgrade: "switched protocols unasked"
        case .interimFlood: "sent more than \(ExchangeLifecycle.maxInterimResponses) interim responses"
        case .transferCodingForHTTP10: "applied a transfer coding an HTTP/1.0 client cannot receive"
        case .badFraming: "sent a malformed body"
        case .truncated: "closed mid-response"
        case .idleMidResponse: "idle mid-response"
        case .resetMidResponse: "reset mid-response"
        }
    }

    /// True when nothing of the request reached the upstream, so any method may be sent to the
    /// next address (as nginx's `proxy_next_upstream error timeout`). A refused certificate is
    /// not an address problem: every address would present the same one.
    public var triesNextAddress: Bool {
        switch self {
        case .connectRefused, .connectTimeout: true
        default: false
        }
    }
}
