/// An HTTP failure that already knows what the client is told.
///
/// Every failure path carries its status, so whoever catches it can answer without a table
/// of its own. `closeConnection` is true for framing faults: after them the byte stream can
/// no longer be trusted, so nothing more is read from it.
public struct HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    /// Short, fixed, safe to send to the client and to log (never carries request bytes).
    public var reason: String
    public var closeConnection: Bool

    public init(status: Int, reason: String, closeConnection: Bool = true) {
        self.status = status
        self.reason = reason
        self.closeConnection = closeConnection
    }

    public var description: String { "\(status) \(reason)" }
}

public struct HTTPVersion: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// How a message body is delimited on the wire (RFC 9112 §6).
public enum BodyFraming: Equatable, Sendable {
    case none
    case contentLength(UInt64)
    case chunked
    /// Response only: the body runs until the connection closes.
    case untilClose
}

public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request target exactly as received (origin-form, absolute-form, `*`, authority-form).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// Derived by the parser: body framing, after RFC 9112 §6.3 validation.
    public var framing: BodyFraming
    /// The authority the request is for: absolute-form authority, else Host (lowercased, port kept).
    public var authority: String
    /// Origin-form path without the query (`/a/b` for `/a/b?x=1`, and for absolute-form
    /// targets), in canonical form (`PathCanonicalizer`): what routing matches, the access log
    /// records and the upstream receives.
    public var path: String
    /// The path exactly as received, only when it differs from `path` (for `raw_path` routes).
    public var rawPath: String?
    /// The path holds `%2F`, `%5C` or a raw `\`: only `raw_path` routes accept it.
    public var hasAmbiguousSeparator: Bool
    /// The query without `?`, nil when the target has none.
    public var query: String?
    /// Whether the client wants the connection kept open after this exchange.
    public var keepAlive: Bool

    public init(
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders,
        framing: BodyFraming, authority: String, path: String, query: String?, keepAlive: Bool,
        rawPath: String? = nil, hasAmbiguousSeparator: Bool = false
    ) {
        self.method = method; self.target = target; self.version = version; self.headers = headers
        self.framing = framing; self.authority = authority; self.path = path; self.query = query
        self.keepAlive = keepAlive; self.rawPath = rawPath; self.hasAmbiguousSeparator = hasAmbiguousSeparator
    }
}

public struct HTTPResponseHead: Sendable, Equatable {
    public var version: HTTPVersion
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders
    /// Derived by the parser from the status, headers and the request method (RFC 9112 §6.3).
    public var framing: BodyFraming
    /// Whether the upstream connection may be reused after this response.
    public var keepAlive: Bool
    /// Transfer codings other than the final `chunked`, lowercased, in order (`["gzip"]` for
    /// `Transfer-Encoding: gzip, chunked`): the body stays coded with them after de-chunking,
    /// so they must travel on with it (RFC 9112 §7).
    public var transferCodings: [String]

    public init(version: HTTPVersion, status: Int, reason: String, headers: HTTPHeaders, framing: BodyFraming, keepAlive: Bool,
                transferCodings: [String] = []) {
        self.version = version; self.status = status; self.reason = reason; self.headers = headers
        self.framing = framing; self.keepAlive = keepAlive; self.transferCodings = transferCodings
    }
}

@inlinable
public func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    utf8Equal(a, b) { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }
}

/// Whether `a` and `b` have the same UTF-8 bytes once each byte is mapped through `fold`.
/// Lengths first (O(1) for native strings, and most header-name pairs differ there), then the
/// bytes where they lie: native and small strings expose them directly, which is several
/// times cheaper than stepping two iterators.
@inlinable @inline(__always)
func utf8Equal(_ a: String, _ b: String, folding fold: (UInt8) -> UInt8) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    let contiguous: Bool?? = a.utf8.withContiguousStorageIfAvailable { pa in
        b.utf8.withContiguousStorageIfAvailable { pb in
            for i in 0..<pa.count where pa[i] != pb[i] && fold(pa[i]) != fold(pb[i]) { return false }
            return true
        }
    }
    if let contiguous, let contiguous { return contiguous }
    return a.utf8.elementsEqual(b.utf8) { $0 == $1 || fold($0) == fold($1) }
}

extension Substring {
    /// Trims optional whitespace (SP / HTAB) at both ends.
    public func trimmingOWS() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
