/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3), parsed strictly:
/// exactly one SP between the parts, nothing after the version.
struct RequestLine: HeadStartLine {
    var method: String
    var target: String
    var version: HTTPVersion
    /// The canonical path (see `PathCanonicalizer`): what routing matches and the upstream gets.
    var path: String
    /// The path as received, only when it differs from `path`.
    var rawPath: String?
    /// The path holds `%2F`, `%5C` or `\`: refused unless the route takes raw paths.
    var hasAmbiguousSeparator = false
    var query: String?
    /// The authority of an absolute-form target, normalised; it overrides Host (RFC 9112 §3.2.2).
    var absoluteAuthority: String?

    static var malformedStatus: Int { 400 }
    static var tooLargeStatus: Int { 431 }
    static func maxLineBytes(_ limits: HTTPLimits) -> Int { limits.maxRequestLineBytes }

    private static func bad(_ reason: String) -> HTTPError { HTTPError(status: 400, reason: reason) }

    /// Length of the leading token, and whether it ended at SP / the end of the bytes / a
    /// byte that no method can contain.
    private static func methodEnd(_ line: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < line.count && HTTPByte.isToken(line[i]) { i &+= 1 }
        return i
    }

    static func checkPartial(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError) {
        let m = methodEnd(line)
        if m > limits.maxMethodBytes { throw HTTPError(status: 501, reason: "method too long") }
        guard m < line.count else { return }
        let b = line[m]
        // A trailing CR may still turn out to be the line's CRLF; anything else non-token is fatal.
        if b != HTTPByte.sp && !(b == HTTPByte.cr && m == line.count - 1) { throw bad("invalid method") }
        if m == 0 { throw bad("invalid request line") }
    }

    static func lineTooLong(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) -> HTTPError {
        do {
            try checkPartial(line, limits: limits)
        } catch {
            return error
        }
        if methodEnd(line) == line.count { return HTTPError(status: 501, reason: "method too long") }
        return HTTPError(status: 414, reason: "request target too long")
    }

    static func parse(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPError) -> RequestLine {
        let n = line.count
        let m = methodEnd(line)
        if m > limits.maxMethodBytes { throw HTTPError(status: 501, reason: "method too long") }
        guard m > 0, m < n, line[m] == HTTPByte.sp else { throw bad("invalid request line") }
        if n > limits.maxRequestLineBytes { throw HTTPError(status: 414, reason: "request target too long") }
        let methodBytes = line.slice(0, m)
        // The gateway does not tunnel; refuse CONNECT as not implemented (a 405 would claim
        // the target exists and lacks the method, which is not the case).
        if methodBytes.equals("CONNECT") { throw HTTPError(status: 501, reason: "CONNECT not supported") }

        let ts = m + 1
        var te = ts
        var queryStart = -1
        while te < n {
            let b = line[te]
            if b == HTTPByte.sp { break }
            // Visible ASCII only: no controls, SP, DEL or raw non-ASCII (RFC 9112 §3.2); no `#`,
            // a fragment is never part of a request target and parsers disagree on it.
            guard b > 0x20 && b < 0x7F && b != UInt8(ascii: "#") else { throw bad("invalid request target") }
            if b == UInt8(ascii: "?") && queryStart < 0 { queryStart = te }
            te &+= 1
        }
        guard te > ts, te < n else { throw bad("invalid request line") }
        let version = try parseVersion(line.slice(te + 1, n))

        let first = line[ts]
        // Every part is worked out before the value is made, once: a value built early and
        // then edited is copied (its strings retained and released) on the throwing paths.
        var pathStart = ts
        var absoluteAuthority: String?
        if first == UInt8(ascii: "/") {
            // origin-form
        } else if te - ts == 1 && first == UInt8(ascii: "*") {
            // asterisk-form is for server-wide OPTIONS only (RFC 9112 §3.2.4).
            guard methodBytes.equals("OPTIONS") else { throw bad("asterisk-form requires OPTIONS") }
            return RequestLine(method: Self.methodText(methodBytes), target: "*", version: version, path: "*",
                               rawPath: nil, query: nil, absoluteAuthority: nil)
        } else {
            // absolute-form (RFC 9112 §3.2.2): http and https only. Anything else not starting
            // with `/` is authority-form, which only CONNECT may use (RFC 9112 §3.2.3).
            let t = line.slice(ts, te)
            let schemeLength: Int
            if t.count >= 7 && t.slice(0, 7).equalsLowercased("http://") {
                schemeLength = 7
            } else if t.count >= 8 && t.slice(0, 8).equalsLowercased("https://") {
                schemeLength = 8
            } else {
                throw bad("invalid request target form")
            }
            let as_ = ts + schemeLength
            var ae = as_
            while ae < te && line[ae] != UInt8(ascii: "/") && line[ae] != UInt8(ascii: "?") { ae &+= 1 }
            guard let authority = HTTPFieldSemantics.normalizedAuthority(line.slice(as_, ae)) else {
                throw bad("invalid authority")
            }
            absoluteAuthority = authority
            pathStart = ae
        }
        let pathEnd = queryStart >= 0 ? queryStart : te
        let target = String(asciiBytes: line.slice(ts, te))
        let path: String
        var rawPath: String?
        var hasAmbiguousSeparator = false
        if pathStart == pathEnd {
            path = "/"
        } else {
            let raw = line.slice(pathStart, pathEnd)
            let canonical = try PathCanonicalizer.canonicalize(raw)
            hasAmbiguousSeparator = canonical.hasAmbiguousSeparator
            if let c = canonical.canonical {
                path = c
                rawPath = String(asciiBytes: raw)
            } else {
                // Usually the whole target (no query, origin-form): the same string.
                path = pathStart == ts && pathEnd == te ? target : String(asciiBytes: raw)
            }
        }
        return RequestLine(method: Self.methodText(methodBytes), target: target, version: version,
                           path: path, rawPath: rawPath, hasAmbiguousSeparator: hasAmbiguousSeparator,
                           query: queryStart >= 0 ? String(asciiBytes: line.slice(queryStart + 1, te)) : nil,
                           absoluteAuthority: absoluteAuthority)
    }

    /// The method as a string: the common ones (RFC 9110 §9.3, and PATCH) as literals, so
    /// none is made per request; others decoded. Methods are case-sensitive.
    static func methodText(_ m: UnsafeRawBufferPointer) -> String {
        switch m.count {
        case 3:
            if m.equals("GET") { return "GET" }
            if m.equals("PUT") { return "PUT" }
        case 4:
            if m.equals("POST") { return "POST" }
            if m.equals("HEAD") { return "HEAD" }
        case 5:
            if m.equals("PATCH") { return "PATCH" }
        case 6:
            if m.equals("DELETE") { return "DELETE" }
        case 7:
            if m.equals("OPTIONS") { return "OPTIONS" }
        default:
            break
        }
        return String(asciiBytes: m)
    }

    /// `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive (RFC 9112 §2.3).
    ///
    /// 1.0 and 1.1 are served. Other 1.x minors are handled as 1.1, the highest minor this
    /// recipient implements (RFC 9110 §2.5); other majors get 505.
    static func parseVersion(_ v: UnsafeRawBufferPointer, errorStatus: Int = 400) throws(HTTPError) -> HTTPVersion {
        guard v.count == 8, v.starts(with: "HTTP/"), HTTPByte.isDigit(v[5]),
            v[6] == UInt8(ascii: "."), HTTPByte.isDigit(v[7])
        else { throw HTTPError(status: errorStatus, reason: "invalid HTTP version") }
        let major = Int(v[5] &- 0x30)
        let minor = Int(v[7] &- 0x30)
        guard major == 1 else {
            throw HTTPError(status: errorStatus == 400 ? 505 : errorStatus, reason: "HTTP version not supported")
        }
        return minor == 0 ? .http1_0 : .http1_1
    }
}
