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

/// A parsed request head. A value, kept in one shared box: a request head is handed from the
/// parser to routing, authentication and the exchange, and each hand-over of eleven fields
/// would otherwise retain and release every string in it (several times per request).
public struct HTTPRequestHead: Sendable, Equatable {
    private final class Storage: @unchecked Sendable {
        var method: String
        var target: String
        var version: HTTPVersion
        var headers: HTTPHeaders
        var framing: BodyFraming
        var authority: String
        var path: String
        var rawPath: String?
        var hasAmbiguousSeparator: Bool
        var query: String?
        var keepAlive: Bool

        init(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, framing: BodyFraming,
             authority: String, path: String, rawPath: String?, hasAmbiguousSeparator: Bool, query: String?, keepAlive: Bool) {
            self.method = method; self.target = target; self.version = version; self.headers = headers
            self.framing = framing; self.authority = authority; self.path = path; self.rawPath = rawPath
            self.hasAmbiguousSeparator = hasAmbiguousSeparator; self.query = query; self.keepAlive = keepAlive
        }

        func copy() -> Storage {
            Storage(method: method, target: target, version: version, headers: headers, framing: framing, authority: authority,
                    path: path, rawPath: rawPath, hasAmbiguousSeparator: hasAmbiguousSeparator, query: query, keepAlive: keepAlive)
        }
    }

    // Boxed, not shared between threads while mutated: a head belongs to one worker's loop
    // (hence `@unchecked Sendable` on the box), and a write to a shared box copies it first.
    private var storage: Storage

    private var unique: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }
    }

    public var method: String {
        get { storage.method }
        set { unique.method = newValue }
    }
    /// The request target exactly as received (origin-form, absolute-form, `*`, authority-form).
    public var target: String {
        get { storage.target }
        set { unique.target = newValue }
    }
    public var version: HTTPVersion {
        get { storage.version }
        set { unique.version = newValue }
    }
    public var headers: HTTPHeaders {
        get { storage.headers }
        // In place: a get-then-set would copy the fields' storage for every edit.
        _modify {
            let box = unique
            yield &box.headers
        }
    }
    /// Derived by the parser: body framing, after RFC 9112 §6.3 validation.
    public var framing: BodyFraming {
        get { storage.framing }
        set { unique.framing = newValue }
    }
    /// The authority the request is for: absolute-form authority, else Host (lowercased, port kept).
    public var authority: String {
        get { storage.authority }
        set { unique.authority = newValue }
    }
    /// Origin-form path without the query (`/a/b` for `/a/b?x=1`, and for absolute-form
    /// targets), in canonical form (`PathCanonicalizer`): what routing matches, the access log
    /// records and the upstream receives.
    public var path: String {
        get { storage.path }
        set { unique.path = newValue }
    }
    /// The path exactly as received, only when it differs from `path` (for `raw_path` routes).
    public var rawPath: String? {
        get { storage.rawPath }
        set { unique.rawPath = newValue }
    }
    /// The path holds `%2F`, `%5C` or a raw `\`: only `raw_path` routes accept it.
    public var hasAmbiguousSeparator: Bool {
        get { storage.hasAmbiguousSeparator }
        set { unique.hasAmbiguousSeparator = newValue }
    }
    /// The query without `?`, nil when the target has none.
    public var query: String? {
        get { storage.query }
        set { unique.query = newValue }
    }
    /// Whether the client wants the connection kept open after this exchange.
    public var keepAlive: Bool {
        get { storage.keepAlive }
        set { unique.keepAlive = newValue }
    }

    public init(
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders,
        framing: BodyFraming, authority: String, path: String, query: String?, keepAlive: Bool,
        rawPath: String? = nil, hasAmbiguousSeparator: Bool = false
    ) {
        storage = Storage(method: method, target: target, version: version, headers: headers, framing: framing, authority: authority,
                          path: path, rawPath: rawPath, hasAmbiguousSeparator: hasAmbiguousSeparator, query: query, keepAlive: keepAlive)
    }

    public static func == (a: HTTPRequestHead, b: HTTPRequestHead) -> Bool {
        if a.storage === b.storage { return true }
        return a.method == b.method && a.target == b.target && a.version == b.version && a.headers == b.headers
            && a.framing == b.framing && a.authority == b.authority && a.path == b.path && a.rawPath == b.rawPath
            && a.hasAmbiguousSeparator == b.hasAmbiguousSeparator && a.query == b.query && a.keepAlive == b.keepAlive
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
