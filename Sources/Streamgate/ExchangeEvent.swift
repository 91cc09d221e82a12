import StreamgateCore

/// What an exchange reports to the connection that owns it: how it ended, and what it needs
/// done with the client's reads and timeouts (which only the owner touches). None of these
/// is on the relay path: at most a few per request.
enum ExchangeEvent {
    /// The whole response is in the client's output buffer. `reusable`: the connection may
    /// carry another request.
    case finished(reusable: Bool)
    /// Failed before any response byte was sent: the owner answers with this response instead
    /// (the exchange already logged and counted it).
    case failed(GatewayResponse)
    /// Broke mid-response: the client is dropped without a clean end, so it can tell a
    /// truncated response from a complete one. `discardPending`: what is queued is not flushed.
    case aborted(discardPending: Bool)
    /// The client left (the exchange has let its upstream go): close the connection.
    case clientLeft
    /// Stop reading the client: the upstream is behind on the request body, or the client
    /// half-closed while the response still goes out.
    case pauseClientReads
    /// Read the client again (the upstream caught up, or a read timeout switched reads off).
    case resumeClientReads
    /// The request body is in: the client may now stay quiet for as long as the response
    /// takes, so only `sendTimeout` applies.
    case requestBodyRead(sendTimeout: Duration)
}

/// Who runs an exchange (`ClientConnection`): the one place it reports to.
protocol ExchangeOwner: AnyObject {
    func exchange(_ exchange: ProxyExchange, reported event: ExchangeEvent)
}
