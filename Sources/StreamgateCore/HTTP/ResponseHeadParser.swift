/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]` (RFC 9112 §4).
///
/// Tolerates a missing SP after the code (`HTTP/1.1 200`): RFC 9112 §4 makes the reason
/// optional and older servers omit the separator too.
struct StatusLine: HeadStartLine {
    var version: HTTPVersion
    var status: Int
    var reason: String

    static var malformedStatus: Int { 502 }
    static var tooLargeStatus: Int { 502 }
    static func maxLineBytes(_ limits: HTTPLimits) -> Int { limits.maxHeaderBytes }

    private static func bad(_ reason: String) -> HTTPError { HTTPError(status: 502, reason: reason) }

    static func checkPartial(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError) {
        let prefix = "HTTP/".utf8
        let k = Swift.min(line.count, prefix.count)
        if !line.slice(0, k).elementsEqual(prefix.prefix(k)) { throw bad("invalid status line") }
    }

    static func lineTooLong(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) -> HTTPError {
        bad("upstream head too large")
    }

    static func parse(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError) -> StatusLine {
        let n = line.count
        guard n >= 12, line[8] == HTTPByte.sp else { throw bad("invalid status line") }
        let version = try RequestLine.parseVersion(line.slice(0, 8), errorStatus: 502)
        guard HTTPByte.isDigit(line[9]), HTTPByte.isDigit(line[10]), HTTPByte.isDigit(line[11]) else {
            throw bad("invalid status code")
        }
        let status = Int(line[9] &- 0x30) * 100 + Int(line[10] &- 0x30) * 10 + Int(line[11] &- 0x30)
        guard (100...599).contains(status) else { throw bad("invalid status code") }
        var reason = ""
        if n > 12 {
            guard line[12] == HTTPByte.sp else { throw bad("invalid status line") }
            let r = line.slice(13, n)
            var nonASCII = false
            for b in r {
                guard HTTPByte.isFieldContent(b) else { throw bad("invalid reason phrase") }
                if b >= 0x80 { nonASCII = true }
            }
            // The reason is informational (RFC 9112 §4); odd bytes never fail a response.
            // "OK" (nearly every response) as a literal: no string made for it.
            reason = r.equals("OK") ? "OK" : nonASCII ? String(decoding: r, as: UTF8.self) : String(asciiBytes: r)
        }
        return StatusLine(version: version, status: status, reason: reason)
    }
}

/// Incremental, strict parser for response heads from upstreams.
///
/// Every fault is a 502 for the client: the upstream, not the client, broke the protocol.
/// Framing follows RFC 9112 §6.3: HEAD requests and 1xx/204/304 have no body (their
/// Content-Length is still checked, their Transfer-Encoding ignored since some servers send a
/// stray one); Transfer-Encoding with `chunked` last and once is chunked; `chunked` elsewhere
/// or twice is refused; Transfer-Encoding without `chunked` reads until close (rule 4);
/// Content-Length with Transfer-Encoding, or Transfer-Encoding on HTTP/1.0, is refused
/// (never forward both, RFC 9112 §6.1).
///
/// Codings before `chunked` (`gzip, chunked`) are accepted; the body relayed is then still
/// coded with them, so the proxy must keep those codings (all but `chunked`) in the
/// Transfer-Encoding it sends on.
public struct ResponseHeadParser {
    private var core: HeadParserCore<StatusLine>
    private var requestMethod: String
    private var failure: HTTPError?

    /// `requestMethod` decides framing: responses to HEAD never have a body.
    public init(limits: HTTPLimits, requestMethod: String) {
        core = HeadParserCore(limits: limits)
        self.requestMethod = requestMethod
    }

    /// Some bytes of a head were consumed but it is incomplete.
    public var hasPartialHead: Bool { core.hasPartialHead }

    /// The limits it enforces (a parser kept for reuse must match the configuration in force).
    public var limits: HTTPLimits { core.limits }

    /// Ready for the next response (after a 1xx, or on a reused connection).
    public mutating func reset(requestMethod: String) {
        core.reset()
        failure = nil
        self.requestMethod = requestMethod
    }

    /// Returns how many bytes of `bytes` were consumed, and the head when complete. Throws
    /// `HTTPError` with status 502; after a throw the parser is dead.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPError) -> (consumed: Int, head: HTTPResponseHead?) {
        if let failure { throw failure }
        if core.isComplete { return (0, nil) }  // head already delivered; waiting for reset()
        let consumed = try core.feed(bytes)
        guard core.isComplete, let line = core.start else { return (consumed, nil) }
        do {
            return (consumed, try makeHead(line))
        } catch {
            failure = error
            throw error
        }
    }

    private func bad(_ reason: String) -> HTTPError { HTTPError(status: 502, reason: reason) }

    private mutating func makeHead(_ line: StatusLine) throws(HTTPError) -> HTTPResponseHead {
        var headers = core.takeHeaders()
        var contentLengthFields = 0
        // The usual single all-digits Content-Length, read from its bytes.
        var plainLength: UInt64?
        var transferEncodings: [String] = []
        var connection: [String] = []
        headers.forEachField { name, _, value in
            switch name {
            case .connection:
                connection.append(String(decoding: value, as: UTF8.self))
            case .contentLength:
                contentLengthFields += 1
                if contentLengthFields == 1 { plainLength = HTTPFieldSemantics.plainContentLength(value) }
            case .transferEncoding:
                transferEncodings.append(String(decoding: value, as: UTF8.self))
            default:
                break
            }
        }

        var contentLength: UInt64?
        switch HTTPFieldSemantics.resolvedContentLength(fieldCount: contentLengthFields, plain: plainLength, in: &headers) {
        case .valid(let n)?: contentLength = n
        case .invalid?: throw bad("invalid upstream Content-Length")
        case .differing?: throw bad("differing upstream Content-Length values")
        case nil: break
        }

        let noBody = requestMethod == "HEAD" || line.status < 200 || line.status == 204 || line.status == 304
        let framing: BodyFraming
        var codings: [String] = []
        if noBody {
            framing = .none
        } else if !transferEncodings.isEmpty {
            if line.version == .http1_0 { throw bad("Transfer-Encoding in HTTP/1.0 response") }
            if contentLength != nil { throw bad("upstream sent Content-Length and Transfer-Encoding") }
            guard let te = HTTPFieldSemantics.transferCodings(transferEncodings) else { throw bad("invalid upstream Transfer-Encoding") }
            if te.chunkedCount == 0 {
                framing = .untilClose
                codings = te.codings
            } else if te.chunkedCount == 1 && te.chunkedIsLast && !te.chunkedHasParameters {
                framing = .chunked
                codings = te.codings.dropLast()
            } else {
                throw bad("upstream chunked coding not final or repeated")
            }
        } else if let contentLength {
            framing = .contentLength(contentLength)
        } else {
            framing = .untilClose
        }

        var keepAlive: Bool
        if HTTPFieldSemantics.listContains(connection, "close") {
            keepAlive = false
        } else if line.version == .http1_0 {
            keepAlive = HTTPFieldSemantics.listContains(connection, "keep-alive")
        } else {
            keepAlive = true
        }
        if framing == .untilClose { keepAlive = false }
        // A final response that ends at its head (HEAD, 204, 304) gives no way to tell whether
        // the server will still send a body: some do (a body for HEAD, a buggy 204), and on a
        // reused connection those bytes would be read as the next request's response, which may
        // be another client's. Such a connection is not reused: the cost is one connect per
        // bodiless response, the alternative a response crossing between users.
        if noBody && line.status >= 200 { keepAlive = false }

        return HTTPResponseHead(
            version: line.version, status: line.status, reason: line.reason, headers: headers,
            framing: framing, keepAlive: keepAlive, transferCodings: codings)
    }
}
