/// Incremental, strict HTTP/1.1 request-head parser (RFC 9112 §2-§6, RFC 9110).
///
/// Feed it bytes as they arrive; it consumes bytes only up to and including the blank line
/// that ends the head and never looks past it, so the rest stays in the caller's buffer for
/// the body decoder or the next pipelined request. Lines split across feeds are carried in a
/// small internal buffer; complete lines inside one feed are parsed in place.
///
/// Policy choices, all refusing rather than guessing (RFC 9112 §11.2 request smuggling):
/// - Bare LF ends a line, bare CR is refused (see `HeadParserCore`).
/// - Identical repeated Content-Length values are collapsed into one field; differing ones: 400.
/// - Transfer-Encoding: only a lone `chunked` is implemented. `chunked` not last or twice:
///   400 (length undeterminable, RFC 9112 §6.3 rule 4); any other coding before it: 501
///   (RFC 9112 §6.1), since the gateway would otherwise forward coded bytes without their label.
/// - Transfer-Encoding in an HTTP/1.0 request: 400 (framing faulty, RFC 9112 §6.1).
/// - CONNECT: 501, the gateway does not tunnel.
public struct RequestHeadParser {
    private var core: HeadParserCore<RequestLine>
    /// Set when the complete head failed its semantic checks; the parser stays dead.
    private var failure: HTTPError?

    public init(limits: HTTPLimits) { core = HeadParserCore(limits: limits) }

    /// Some bytes of a head were consumed but it is incomplete (leading empty lines do not
    /// count): an EOF or timeout now interrupts a request rather than an idle connection.
    public var hasPartialHead: Bool { core.hasPartialHead }

    /// Ready for the next pipelined request (also revives a parser that threw).
    public mutating func reset() {
        core.reset()
        failure = nil
    }

    /// Returns how many bytes of `bytes` were consumed, and the head when complete.
    ///
    /// Throws `HTTPError` (400/414/431/501/505) on any violation; after a throw the parser is
    /// dead and rethrows the same error. After a head is returned, feeding consumes nothing
    /// until `reset()`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPError) -> (consumed: Int, head: HTTPRequestHead?) {
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

    private func bad(_ reason: String) -> HTTPError { HTTPError(status: 400, reason: reason) }

    private mutating func makeHead(_ line: RequestLine) throws(HTTPError) -> HTTPRequestHead {
        var headers = core.takeHeaders()
        // Host is validated and normalised from its bytes (no string is made for the raw value).
        var normalizedHost: String?
        var hostIsEmpty = false
        var hostCount = 0
        var contentLengthFields = 0
        // The usual single all-digits Content-Length, read from its bytes.
        var plainLength: UInt64?
        var transferEncodings: [String] = []
        var connection: [String] = []
        headers.forEachField { name, _, value in
            switch name {
            case .host:
                hostCount += 1
                hostIsEmpty = value.isEmpty
                // Only the first matters: a second is refused below.
                if hostCount == 1 { normalizedHost = HTTPFieldSemantics.normalizedAuthority(value) }
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

        // Host (RFC 9112 §3.2): exactly one, valid, on HTTP/1.1. An absolute-form authority
        // wins over it, but Host must still be well-formed (it may be empty only then).
        if hostCount > 1 { throw bad("several Host fields") }
        if line.version == .http1_1 && hostCount == 0 { throw bad("missing Host") }
        var authority = line.absoluteAuthority ?? ""
        if hostCount == 1, !(hostIsEmpty && line.absoluteAuthority != nil) {
            guard let normalized = normalizedHost else { throw bad("invalid Host") }
            if line.absoluteAuthority == nil { authority = normalized }
        }

        let framing: BodyFraming
        if !transferEncodings.isEmpty {
            if line.version == .http1_0 { throw bad("Transfer-Encoding in HTTP/1.0") }
            if contentLengthFields > 0 { throw bad("both Content-Length and Transfer-Encoding") }
            guard let te = HTTPFieldSemantics.transferCodings(transferEncodings) else { throw bad("invalid Transfer-Encoding") }
            guard te.chunkedCount == 1, te.chunkedIsLast, !te.chunkedHasParameters else { throw bad("chunked must be the final coding, once") }
            guard te.codings.count == 1 else { throw HTTPError(status: 501, reason: "transfer coding not implemented") }
            framing = .chunked
        } else {
            switch HTTPFieldSemantics.resolvedContentLength(fieldCount: contentLengthFields, plain: plainLength, in: &headers) {
            case .valid(let n)?: framing = .contentLength(n)
            case .invalid?: throw bad("invalid Content-Length")
            case .differing?: throw bad("differing Content-Length values")
            case nil: framing = .none
            }
        }

        let keepAlive: Bool
        if HTTPFieldSemantics.listContains(connection, "close") {
            keepAlive = false
        } else if line.version == .http1_0 {
            keepAlive = HTTPFieldSemantics.listContains(connection, "keep-alive")
        } else {
            keepAlive = true
        }

        return HTTPRequestHead(
            method: line.method, target: line.target, version: line.version, headers: headers,
            framing: framing, authority: authority, path: line.path, query: line.query, keepAlive: keepAlive,
            rawPath: line.rawPath, hasAmbiguousSeparator: line.hasAmbiguousSeparator)
    }
}
