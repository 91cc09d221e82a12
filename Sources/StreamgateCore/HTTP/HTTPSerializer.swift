/// Builds the heads and chunk framing the gateway writes.
///
/// Heads are always written with CRLF, whatever line endings were received, so downstream
/// parsers never see the leniencies the gateway's own parser accepted. Values reaching here
/// should already be valid; as a last line of defence against header injection, CR, LF and
/// NUL in a name or value are written as SP, so a bad value can never split the head.
public enum HTTPSerializer {
    /// `METHOD SP target SP HTTP/x.y CRLF *(field CRLF) CRLF`.
    public static func requestHead(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimate(method.utf8.count + target.utf8.count + 12, headers))
        appendSafe(method, to: &out)
        out.append(HTTPByte.sp)
        appendSafe(target, to: &out)
        out.append(HTTPByte.sp)
        appendVersion(version, to: &out)
        appendFields(headers, to: &out)
        return out
    }

    /// `HTTP/x.y SP code SP reason CRLF *(field CRLF) CRLF`.
    public static func responseHead(version: HTTPVersion, status: Int, reason: String, headers: HTTPHeaders) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimate(reason.utf8.count + 14, headers))
        appendStatusLine(version: version, status: status, reason: reason, to: &out)
        headers.appendWire(to: &out)
        out.append(HTTPByte.cr)
        out.append(HTTPByte.lf)
        return out
    }

    /// `HTTP/x.y SP code SP reason CRLF`.
    static func appendStatusLine(version: HTTPVersion, status: Int, reason: String, to out: inout [UInt8]) {
        appendVersion(version, to: &out)
        out.append(HTTPByte.sp)
        let code = min(max(status, 0), 999)
        out.append(UInt8(0x30 + code / 100))
        out.append(UInt8(0x30 + code / 10 % 10))
        out.append(UInt8(0x30 + code % 10))
        out.append(HTTPByte.sp)
        appendSafe(reason, to: &out)
        out.append(HTTPByte.cr)
        out.append(HTTPByte.lf)
    }

    /// The standard reason phrase (RFC 9110 §15), or "" for codes without one.
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    private static func estimate(_ startLine: Int, _ headers: HTTPHeaders) -> Int {
        startLine + 4 + headers.wireByteCount
    }

    static func appendVersion(_ v: HTTPVersion, to out: inout [UInt8]) {
        appendStatic("HTTP/", to: &out)
        out.append(UInt8(0x30 + min(max(v.major, 0), 9)))
        out.append(UInt8(ascii: "."))
        out.append(UInt8(0x30 + min(max(v.minor, 0), 9)))
    }

    private static func appendFields(_ headers: HTTPHeaders, to out: inout [UInt8]) {
        out.append(HTTPByte.cr)
        out.append(HTTPByte.lf)
        // Stored names and values are already safe: validated by the parser or sanitised by
        // `HTTPHeaders.add`.
        headers.appendWire(to: &out)
        out.append(HTTPByte.cr)
        out.append(HTTPByte.lf)
    }

    @inline(__always)
    static func appendSafe(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendSafe($0, to: &out) }
    }

    /// Scans the source, then copies: the common case (nothing to replace) is one memcpy,
    /// without per-byte writes through the array.
    static func appendSafe(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        for b in bytes where b == HTTPByte.cr || b == HTTPByte.lf || b == 0 {
            out.append(contentsOf: bytes.lazy.map { $0 == HTTPByte.cr || $0 == HTTPByte.lf || $0 == 0 ? HTTPByte.sp : $0 })
            return
        }
        out.append(contentsOf: bytes)
    }

    /// A constant's bytes, copied without making a `String`.
    @inline(__always)
    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// `name: value CRLF`, the value made safe (the name is a constant).
    @inline(__always)
    static func appendField(_ name: StaticString, _ value: String, to out: inout [UInt8]) {
        appendStatic(name, to: &out)
        out.append(HTTPByte.colon)
        out.append(HTTPByte.sp)
        appendSafe(value, to: &out)
        out.append(HTTPByte.cr)
        out.append(HTTPByte.lf)
    }
}
