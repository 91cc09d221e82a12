/// How the gateway relays an upstream's final response head to its client: the framing of
/// the body towards the client, whether the client connection stays open, whether the body
/// is relayed as an event stream, and the head bytes to send. Pure: the exchange acts on it.
public struct ResponsePlan: Sendable, Equatable {
    /// How the response body is framed towards the client.
    public enum ClientFraming: Sendable, Equatable { case none, contentLength, chunked, closeDelimited }

    /// What the client's request says about the response it can take.
    public struct Request: Sendable {
        public var method: String
        public var version: HTTPVersion
        /// The client asked to keep the connection (`HTTPRequestHead.keepAlive`).
        public var keepAlive: Bool
        public var requestID: String
        /// The gateway is draining: no connection is kept for another request.
        public var draining: Bool
        /// The route's `force_stream`: relay as an event stream whatever the content type.
        public var forceStream: Bool
        /// The route's CORS policy, with the request's Origin and the caller's session.
        public var cors: CORSPolicy?
        public var origin: String?
        public var session: SessionRecord?
        /// The token came in the URL: the response must not be stored (RFC 6750 §2.3).
        public var requiresNoStore: Bool

        public init(method: String, version: HTTPVersion, keepAlive: Bool, requestID: String, draining: Bool = false,
                    forceStream: Bool = false, cors: CORSPolicy? = nil, origin: String? = nil, session: SessionRecord? = nil,
                    requiresNoStore: Bool = false) {
            self.method = method; self.version = version; self.keepAlive = keepAlive; self.requestID = requestID
            self.draining = draining; self.forceStream = forceStream; self.cors = cors; self.origin = origin
            self.session = session; self.requiresNoStore = requiresNoStore
        }
    }

    /// How the upstream's body is read (`.none` for a HEAD request's response).
    public var bodyFraming: BodyFraming
    public var clientFraming: ClientFraming
    /// The client connection may carry another request after this response.
    public var keepAlive: Bool
    /// The body is relayed as an event stream (keepalives, boundaries, timed ends).
    public var isStream: Bool
    /// The response head to send to the client.
    public var head: [UInt8]

    /// The plan for `response`, or the failure that keeps it from reaching the client.
    public static func make(for response: HTTPResponseHead, request: Request) -> Result<ResponsePlan, Refusal> {
        // Transfer codings other than chunked (RFC 9112 §7) stay on the message: HTTP/1.0 has
        // no Transfer-Encoding (§6.1 forbids sending it), so such a response cannot reach an
        // HTTP/1.0 client intact.
        let codings = response.transferCodings
        if !codings.isEmpty && request.version != .http1_1 { return .failure(.transferCodingForHTTP10(codings)) }
        var headers = response.headers
        let contentType = headers.first(name: "content-type") ?? ""
        // A coded body (gzip, ...) cannot take gateway-written bytes (keepalives, retry hints,
        // end events) without being corrupted: it is relayed as it comes, like any body.
        let coded = !codings.isEmpty || headers.first(name: "content-encoding").map { !asciiCaseInsensitiveEquals($0, "identity") } == true
        let isStream = !coded && (request.forceStream || contentType.utf8.starts(with: "text/event-stream".utf8))
        ForwardingHeaders.removeHopByHop(&headers)
        let bodyFraming = request.method == "HEAD" ? .none : response.framing
        let clientFraming: ClientFraming
        switch bodyFraming {
        case .none:
            clientFraming = .none
        case .contentLength where !isStream:
            clientFraming = .contentLength
        default:
            // A stream's length is not kept: the gateway may end it early or add bytes.
            headers.remove(name: "content-length")
            if request.version == .http1_1 {
                clientFraming = .chunked
                headers.add(name: "Transfer-Encoding", value: codings.isEmpty ? "chunked" : codings.joined(separator: ", ") + ", chunked")
            } else {
                clientFraming = .closeDelimited
            }
        }
        let keepAlive = request.keepAlive && clientFraming != .closeDelimited && !request.draining
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        headers.replaceOrAdd(name: "X-Request-Id", value: request.requestID)
        if let cors = request.cors {
            cors.apply(to: &headers, origin: request.origin, session: request.session)
        }
        if request.requiresNoStore {
            // A token in the URL: keep this response out of every shared cache (RFC 6750 §2.3).
            let cc = headers.first(name: "cache-control") ?? ""
            if !cc.lowercased().contains("no-store") { headers.replaceOrAdd(name: "Cache-Control", value: cc.isEmpty ? "no-store" : cc + ", no-store") }
        }
        let head = HTTPSerializer.responseHead(version: .http1_1, status: response.status, reason: response.reason, headers: headers)
        return .success(ResponsePlan(bodyFraming: bodyFraming, clientFraming: clientFraming, keepAlive: keepAlive, isStream: isStream, head: head))
    }

    /// Why a response head cannot be relayed.
    public enum Refusal: Error, Equatable {
        /// The codings applied, for the error log.
        case transferCodingForHTTP10([String])

        public var failure: UpstreamFailure { .transferCodingForHTTP10 }
    }
}
