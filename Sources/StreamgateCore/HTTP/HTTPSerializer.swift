/// Builds the heads and chunk framing the gateway writes.
///
/// Heads are always written with CRLF, whatever line endings were received, so downstream
/// parsers never see the leniencies the gateway's own parser accepted. Values reaching here
/// should already be valid; as a last line of defence against header injection, CR, LF and
/// NUL in a name or value are written as SP, so a bad value can never split the head.
public enum HTTPSerializer {
    /// `METHOD SP target SP HTTP/x.y CRLF *(field CRLF) CRLF`.
    public static func requestHead(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders) -> [UInt8] {
        var out = HeadWriter(capacity: method.utf8.count + target.utf8.count + 16 + headers.wireByteCount)
        out.writeSafe(method)
        out.write(HTTPByte.sp)
        out.writeSafe(target)
        out.write(HTTPByte.sp)
        writeVersion(version, to: &out)
        out.crlf()
        headers.writeWire(to: &out)
        out.crlf()
        return out.finish()
    }

    /// `HTTP/x.y SP code SP reason CRLF *(field CRLF) CRLF`.
    public static func responseHead(version: HTTPVersion, status: Int, reason: String, headers: HTTPHeaders) -> [UInt8] {
        var out = HeadWriter(capacity: reason.utf8.count + 18 + headers.wireByteCount)
        writeStatusLine(version: version, status: status, reason: reason, to: &out)
        headers.writeWire(to: &out)
        out.crlf()
        return out.finish()
    }

    /// `HTTP/x.y SP code SP reason CRLF`.
    static func writeStatusLine(version: HTTPVersion, status: Int, reason: String, to out: inout HeadWriter) {
        writeVersion(version, to: &out)
        out.write(HTTPByte.sp)
        let code = min(max(status, 0), 999)
        out.write(UInt8(0x30 + code / 100))
        out.write(UInt8(0x30 + code / 10 % 10))
        out.write(UInt8(0x30 + code % 10))
        out.write(HTTPByte.sp)
        out.writeSafe(reason)
        out.crlf()
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

    static func writeVersion(_ v: HTTPVersion, to out: inout HeadWriter) {
        // The version written on nearly every head, in one copy.
        if v.major == 1 && v.minor == 1 { out.write("HTTP/1.1"); return }
        out.write("HTTP/")
        out.write(UInt8(0x30 + min(max(v.major, 0), 9)))
        out.write(UInt8(ascii: "."))
        out.write(UInt8(0x30 + min(max(v.minor, 0), 9)))
    }
}
