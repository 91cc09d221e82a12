/// One canonical spelling of a request path, so the gateway routes on the resource the
/// upstream will serve and forwards exactly that spelling.
///
/// Most upstreams resolve `..`, decode `%2e` and merge `//` before they look at a path. A
/// gateway that routes on the raw bytes and forwards them unchanged lets `/public/../admin`
/// pass as `public` and be served as `/admin` (Envoy CVE-2019-9901, Istio CVE-2021-31920,
/// Traefik CVE-2025-32431). The steps, as RFC 3986 §6.2.2 and nginx do them:
///
/// 1. percent-encoded unreserved characters (`ALPHA DIGIT - . _ ~`, RFC 3986 §2.3) are
///    decoded; every other percent-encoding keeps its octet and gets uppercase hex (§6.2.2.1);
/// 2. repeated `/` are merged (nginx `merge_slashes`);
/// 3. dot segments are removed (RFC 3986 §5.2.4), after step 1, so `%2e%2e` is `..`.
///
/// Refused (400), because no spelling is unambiguous: a malformed percent-encoding, an encoded
/// NUL or control byte, a dot segment that climbs above the root (an error, not `/`), and a dot
/// segment carrying `;` parameters (`..;x`, which Tomcat-style servers treat as `..`).
///
/// An encoded `/` (`%2F`) or `\` (`%5C`), and a raw `\`, cannot be decoded without changing the
/// path's segments, and kept as they are they mean different things to different upstreams.
/// They are kept (uppercase) and flagged: only a route with `raw_path = true` accepts them.
public enum PathCanonicalizer {
    public struct Result: Equatable, Sendable {
        /// The canonical path; nil when the raw path is already canonical (the common case, which
        /// then costs one scan and no allocation).
        public var canonical: String?
        /// The path holds `%2F`, `%5C` or a raw `\`.
        public var hasAmbiguousSeparator: Bool
    }

    /// Canonicalises an origin-form path (starting with `/`, no query).
    public static func canonicalize(_ path: UnsafeRawBufferPointer) throws(HTTPError) -> Result {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: "."), percent = UInt8(ascii: "%"), backslash = UInt8(ascii: "\\")
        precondition(path.first == slash, "origin-form path must start with '/'")
        // Fast scan: anything that could need rewriting sends the path to the slow path.
        var ambiguous = false
        var needsWork = false
        var previous = slash
        for b in path.view(from: 1, count: path.count - 1) {
            if b == percent || (previous == slash && (b == slash || b == dot)) { needsWork = true; break }
            if b == backslash { ambiguous = true }
            previous = b
        }
        if !needsWork { return Result(canonical: nil, hasAmbiguousSeparator: ambiguous) }
        return try rebuild(path)
    }

    /// Convenience for `String` input (config values, tests).
    public static func canonicalize(_ path: String) throws(HTTPError) -> Result {
        let bytes = Array(path.utf8)
        let result: Swift.Result<Result, HTTPError> = bytes.withUnsafeBytes { u in
            do throws(HTTPError) { return .success(try canonicalize(u)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The canonical path an upstream would see if it read `%2F`, `%5C` and `\` as `/` before
    /// resolving dot segments (nginx, many frameworks): nil when that reading climbs above the
    /// root or is otherwise invalid. A `raw_path` route forwards the raw target, so it must stay
    /// the same route under this reading too, or `/raw/..%2Fadmin` reaches `/admin`.
    public static func separatorsAsSlashes(_ rawPath: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rawPath.utf8.count)
        let utf8 = Array(rawPath.utf8)
        var i = 0
        while i < utf8.count {
            let b = utf8[i]
            if b == UInt8(ascii: "%"), i + 2 < utf8.count {
                let hi = utf8[i + 1] | 0x20, lo = utf8[i + 2] | 0x20
                if (hi == UInt8(ascii: "2") && lo == UInt8(ascii: "f")) || (hi == UInt8(ascii: "5") && lo == UInt8(ascii: "c")) {
                    bytes.append(UInt8(ascii: "/"))
                    i += 3
                    continue
                }
            }
            bytes.append(b == UInt8(ascii: "\\") ? UInt8(ascii: "/") : b)
            i += 1
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let result = try? canonicalize(text) else { return nil }
        return result.canonical ?? text
    }

    private static func bad(_ reason: String) -> HTTPError { HTTPError(status: 400, reason: reason) }

    private static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Unreserved characters (RFC 3986 §2.3): decoded wherever they appear percent-encoded.
    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        (b &- 0x61 < 26) || (b &- 0x41 < 26) || (b &- 0x30 < 10)
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
    }

    private static func rebuild(_ path: UnsafeRawBufferPointer) throws(HTTPError) -> Result {
        let slash = UInt8(ascii: "/")
        var out: [UInt8] = []
        out.reserveCapacity(path.count)
        out.append(slash)
        /// Start offsets in `out` of each kept segment (for `..`).
        var segmentStarts: [Int] = []
        var ambiguous = false
        var endsWithSlash = true
        var i = 1
        let n = path.count
        while i <= n {
            // One segment: bytes up to the next raw `/` or the end, decoded into `segment`.
            var segment: [UInt8] = []
            while i < n && path[i] != slash {
                let b = path[i]
                if b == UInt8(ascii: "%") {
                    guard i + 2 < n, let hi = HTTPByte.hexValue(path[i + 1]), let lo = HTTPByte.hexValue(path[i + 2]) else {
                        throw bad("invalid percent-encoding in path")
                    }
                    let octet = UInt8(hi << 4 | lo)
                    if octet < 0x20 || octet == 0x7F { throw bad("encoded control byte in path") }
                    if isUnreserved(octet) {
                        segment.append(octet)
                    } else {
                        if octet == slash || octet == UInt8(ascii: "\\") { ambiguous = true }
                        segment.append(UInt8(ascii: "%"))
                        segment.append(upperHex[Int(octet >> 4)])
                        segment.append(upperHex[Int(octet & 0xF)])
                    }
                    i += 3
                } else {
                    if b == UInt8(ascii: "\\") { ambiguous = true }
                    segment.append(b)
                    i += 1
                }
            }
            i += 1  // past the `/` (or the end)
            let isLast = i > n
            switch dotSegmentKind(segment) {
            case .current:
                endsWithSlash = true
            case .parent:
                guard let start = segmentStarts.popLast() else { throw bad("path climbs above the root") }
                out.removeSubrange(start...)
                endsWithSlash = true
            case .dotWithParameters:
                throw bad("dot segment with parameters in path")
            case .none where segment.isEmpty:
                // `//` merges; a final empty segment is the trailing slash.
                if isLast { endsWithSlash = true }
            case .none:
                if out.last != slash { out.append(slash) }
                segmentStarts.append(out.count)
                out.append(contentsOf: segment)
                endsWithSlash = false
            }
        }
        if endsWithSlash && out.last != slash { out.append(slash) }
        let canonical: String? = out.elementsEqual(path) ? nil : String(decoding: out, as: UTF8.self)
        return Result(canonical: canonical, hasAmbiguousSeparator: ambiguous)
    }

    private enum DotSegment { case none, current, parent, dotWithParameters }

    private static func dotSegmentKind(_ s: [UInt8]) -> DotSegment {
        let dot = UInt8(ascii: ".")
        let body = s.firstIndex(of: UInt8(ascii: ";")).map { s[..<$0] } ?? s[...]
        let isDot = body.count == 1 && body.first == dot
        let isDotDot = body.count == 2 && body.first == dot && body.last == dot
        guard isDot || isDotDot else { return .none }
        if body.count != s.count { return .dotWithParameters }
        return isDot ? .current : .parent
    }
}
