/// Why an exchange ended other than with a complete response, as the access log's `outcome`
/// records it. The texts are stable: dashboards, tests and docs/ match on them.
public enum ExchangeOutcome: Equatable, Sendable {
    /// The upstream failed (`UpstreamFailure.outcome` is the text).
    case upstream(UpstreamFailure)
    /// The request body passed `max_body_bytes`.
    case requestBodyTooLarge
    /// The request body's framing was broken.
    case badRequestBody
    /// The client stopped sending its body for `client_body_timeout`.
    case clientBodyTimeout
    /// The client closed or reset before the response was complete.
    case clientGone
    /// A stream reader fell `max_client_buffer` behind.
    case slowConsumer
    /// The gateway ended an event stream, at a boundary or mid-event.
    case streamEnded(SSEEndReason)

    /// The access log's `outcome` field.
    public var logText: String {
        switch self {
        case .upstream(let failure): failure.outcome
        case .requestBodyTooLarge: "body_too_large"
        case .badRequestBody: "bad_request_body"
        case .clientBodyTimeout: "client_body_timeout"
        case .clientGone: "client_gone"
        case .slowConsumer: "slow_consumer"
        case .streamEnded(let reason): "stream_" + reason.rawValue
        }
    }
}
