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

        @inlinable
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
    /// `scratch`: memory to write the head in before it is copied into the plan (a loop's
    /// buffer), so that only the plan's copy is allocated.
    public static func make(for response: HTTPResponseHead, request: Request,
                            scratch: UnsafeMutableRawBufferPointer? = nil) -> Result<ResponsePlan, Refusal> {
        // Transfer codings other than chunked (RFC 9112 §7) stay on the message: HTTP/1.0 has
        // no Transfer-Encoding (§6.1 forbids sending it), so such a response cannot reach an
        // HTTP/1.0 client intact.
        let codings = response.transferCodings
        if !codings.isEmpty && request.version != .http1_1 { return .failure(.transferCodingForHTTP10(codings)) }
        let headers = response.headers
        // A coded body (gzip, ...) cannot take gateway-written bytes (keepalives, retry hints,
        // end events) without being corrupted: it is relayed as it comes, like any body.
        let coded = !codings.isEmpty || headers.first(.contentEncoding).map { !asciiCaseInsensitiveEquals($0, "identity") } == true
        let isStream = !coded && (request.forceStream
            || headers.firstValue(.contentType, Self.isEventStreamType) == true)
        let bodyFraming = request.method == "HEAD" ? .none : response.framing
        let clientFraming: ClientFraming
        var transferEncoding: String?
        switch bodyFraming {
        case .none:
            clientFraming = .none
        case .contentLength where !isStream:
            clientFraming = .contentLength
        default:
            // A stream's length is not kept: the gateway may end it early or add bytes.
            if request.version == .http1_1 {
                clientFraming = .chunked
                transferEncoding = codings.isEmpty ? "chunked" : codings.joined(separator: ", ") + ", chunked"
            } else {
                clientFraming = .closeDelimited
            }
        }
        let dropsLength = clientFraming == .chunked || clientFraming == .closeDelimited
        let keepAlive = request.keepAlive && clientFraming != .closeDelimited && !request.draining
        let connection: String? = !keepAlive ? "close" : request.version == .http1_0 ? "keep-alive" : nil
        let late = LateFields(headers: headers, request: request)

        // One pass: the upstream's fields that travel on, as received, then the gateway's.
        // Fields the gateway sets replace every upstream copy and go last, in this order:
        // Transfer-Encoding, Connection, X-Request-Id, the CORS grant, Cache-Control.
        var out = scratch.map { HeadWriter(scratch: $0) }
            ?? HeadWriter(capacity: headers.wireByteCount + response.reason.utf8.count + 160 + late.byteCount)
        HTTPSerializer.writeStatusLine(version: .http1_1, status: response.status, reason: response.reason, to: &out)
        let listed = headers.contains(.connection) ? headers.listMembers(name: "connection").map(String.init) : []
        headers.forEachField { known, name, value in
            if ForwardingHeaders.isHopByHop(known) || known == .xRequestID || (dropsLength && known == .contentLength)
                || late.replaces(known, name) || listed.contains(where: { AuthASCII.headerNamesEqual(name, $0) }) {
                return
            }
            out.writeField(name: name, value: value)
        }
        if let transferEncoding { out.writeField("Transfer-Encoding", transferEncoding) }
        if let connection { out.writeField("Connection", connection) }
        out.writeField("X-Request-Id", request.requestID)
        for field in late.fields { out.writeField(named: field.name, field.value) }
        out.crlf()
        return .success(ResponsePlan(bodyFraming: bodyFraming, clientFraming: clientFraming, keepAlive: keepAlive, isStream: isStream, head: out.finish()))
    }

    /// `text/event-stream`, in any case (RFC 9110 §8.3.1), alone or with parameters.
    static func isEventStreamType(_ value: UnsafeRawBufferPointer) -> Bool {
        let n = "text/event-stream".utf8.count
        guard value.startsLowercased(with: "text/event-stream") else { return false }
        return value.count == n || value[n] == HTTPByte.semicolon || HTTPByte.isOWS(value[n])
    }

    /// The fields decided after the upstream's own (CORS, Cache-Control): each replaces the
    /// upstream's copies and is written at the end, except where the upstream's copy already
    /// says it (a `Vary` naming Origin or `*`, a Cache-Control with no-store), which stays.
    struct LateFields {
        /// Replacements in the order written.
        var fields: [(name: String, value: String)] = []
        var replacesVary = false
        var replacesCacheControl = false

        init(headers: HTTPHeaders, request: Request) {
            if let cors = request.cors {
                for (name, value) in cors.responseHeaders(origin: request.origin, session: request.session) {
                    guard asciiCaseInsensitiveEquals(name, "Vary") else {
                        fields.append((name, value))
                        continue
                    }
                    // `Vary: Origin` joins any Vary the upstream sent, so caches keep every
                    // dimension they key on.
                    let existing = headers.listMembers(name: "vary")
                    if existing.contains(where: { $0 == "*" || asciiCaseInsensitiveEquals(String($0), value) }) { continue }
                    fields.append(("Vary", (existing.map(String.init) + [value]).joined(separator: ", ")))
                    replacesVary = true
                }
            }
            if request.requiresNoStore {
                // A token in the URL: keep this response out of every shared cache (RFC 6750 §2.3).
                let cc = headers.first(.cacheControl) ?? ""
                if !cc.lowercased().contains("no-store") {
                    fields.append(("Cache-Control", cc.isEmpty ? "no-store" : cc + ", no-store"))
                    replacesCacheControl = true
                }
            }
        }

        var byteCount: Int { fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } }

        /// Whether an upstream field of that name gives way to one of these.
        @inline(__always)
        func replaces(_ known: HTTPFieldName, _ name: UnsafeRawBufferPointer) -> Bool {
            if fields.isEmpty { return false }
            if known == .vary { return replacesVary }
            if known == .cacheControl { return replacesCacheControl }
            return known == .other && fields.contains { AuthASCII.headerNamesEqual(name, $0.name) }
        }
    }

    public enum Refusal: Error, Equatable {
        /// The codings applied, for the error log.
        case transferCodingForHTTP10([String])

        public var failure: UpstreamFailure { .transferCodingForHTTP10 }
    }
}
