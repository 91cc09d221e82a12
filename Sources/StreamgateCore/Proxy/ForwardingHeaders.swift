/// Rewrites a client's header list into the one sent upstream (RFC 9110 §7.6).
///
/// Order matters for security: hop-by-hop fields (including every name the client listed in
/// `Connection`) are removed first, then gateway-owned fields are stripped and injected, so a
/// client cannot use `Connection: X-Auth-User-Id` to delete a header the gateway adds.
public enum ForwardingHeaders {
    /// Removes hop-by-hop fields and every field named in `Connection`.
    public static func removeHopByHop(_ headers: inout HTTPHeaders) {
        let listed = headers.contains(.connection) ? headers.listMembers(name: "connection").map { String($0) } : []
        headers.removeAll { known, name in
            isHopByHop(known) || listed.contains { AuthASCII.headerNamesEqual(name, $0) }
        }
    }

    /// Fields that describe one hop and never travel on (RFC 9110 §7.6.1), by the name's
    /// classification.
    static func isHopByHop(_ name: HTTPFieldName) -> Bool {
        switch name {
        case .connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .upgrade, .proxyAuthorization,
             .proxyAuthenticate, .trailer:
            true
        default:
            false
        }
    }

    /// Facts about the client hop that the upstream learns from the gateway.
    public struct ClientHop: Sendable {
        /// The previous hop's address: the TCP peer, or the source address of its PROXY
        /// protocol header. Appended to the chain, or the whole chain when not trusted.
        public var clientIP: String
        /// "http" or "https": how the request reached the gateway.
        public var scheme: String
        /// The Host the client asked for.
        public var host: String
        public var requestID: String
        /// Whether `clientIP` is a trusted proxy (its listener's `trust_forwarded`). When false
        /// (the edge default), client-sent X-Forwarded-* and Forwarded are replaced instead of
        /// extended: an untrusted client must not choose the address upstreams see.
        public var trustForwarded: Bool

        public init(clientIP: String, scheme: String, host: String, requestID: String, trustForwarded: Bool) {
            self.clientIP = clientIP; self.scheme = scheme; self.host = host
            self.requestID = requestID; self.trustForwarded = trustForwarded
        }
    }

    /// The names `applyForwarding` sets. Client fields that fold to one of them (ASCII case,
    /// `_` read as `-`) never reach the upstream: see `isOwned`.
    public static let ownedNames = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Request-Id"]

    /// Whether a client field named `name` is a spelling of a forwarding header the gateway
    /// sets. `X_Forwarded_For` counts: CGI-style stacks (RFC 3875 §4.1.18 maps both `-` and
    /// `_` to `_` in `HTTP_*` variables) and frameworks built on them read it as
    /// X-Forwarded-For, and might take the client's copy over the gateway's.
    public static func isOwned(_ name: String) -> Bool {
        ownedNames.contains { AuthASCII.headerNamesCollide($0, name) }
            || framingNames.contains { AuthASCII.headerNamesCollide($0, name) }
    }

    /// The message's framing and target, which the gateway writes itself: a client's
    /// `Content_Length` or `Transfer_Encoding` read as the dashed name by a CGI-style upstream
    /// would desynchronise it, so every spelling goes.
    public static let framingNames = ["Content-Length", "Transfer-Encoding", "Host"]

    /// Sets X-Forwarded-For/-Proto/-Host, Forwarded and X-Request-Id, after removing every
    /// client field that is a spelling of one of them (`isOwned`).
    ///
    /// From a trusted peer (`hop.trustForwarded`), and only from the canonical dashed names:
    /// - `X-Forwarded-For` and `Forwarded` are extended with this hop (RFC 7239 §4: a proxy
    ///   appends its own element), so the upstream sees the whole chain.
    /// - `X-Forwarded-Proto` and `X-Forwarded-Host` are kept when each is one field holding one
    ///   plausible value: they describe the original client's request (typically `https` at a
    ///   TLS-terminating balancer), which the gateway, seeing only the balancer's `http`,
    ///   cannot know. Otherwise the gateway's own values are sent.
    /// From any other peer every one of them is the gateway's own.
    public static func applyForwarding(_ headers: inout HTTPHeaders, hop: ClientHop) {
        var prior = PriorChain()
        if hop.trustForwarded {
            headers.forEachField { known, _, value in prior.note(known, value: value) }
        }
        headers.removeAll(whereName: isOwned)
        for field in fields(hop: hop, prior: prior) { headers.add(name: field.name, value: field.value) }
    }

    /// `isOwned` on a classified name's bytes, without making a string.
    public static func isOwned(_ known: HTTPFieldName, _ name: UnsafeRawBufferPointer) -> Bool {
        // Every owned name is a known one, and known spellings hold no `_`: a known field
        // collides exactly when it is one of them. Only unknown names need the `_` fold, and
        // only those holding a `_`: without one the fold is ASCII case alone, which
        // `HTTPFieldName.classify` already ignores, so such a name is no owned one.
        switch known {
        case .xForwardedFor, .xForwardedProto, .xForwardedHost, .forwarded, .xRequestID, .contentLength,
             .transferEncoding, .host:
            return true
        case .other:
            guard name.contains(UInt8(ascii: "_")) else { return false }
            return ownedNames.contains { AuthASCII.headerNamesCollide(name, $0) }
                || framingNames.contains { AuthASCII.headerNamesCollide(name, $0) }
        default:
            return false
        }
    }

    /// What a trusted peer's request said about the hops before it, read only from the
    /// canonical dashed names (any case). Fed field by field, so the request builder can
    /// collect it in the same pass that filters the client's fields.
    public struct PriorChain: Sendable {
        var forwardedFor: [String] = []
        var forwarded: [String] = []
        var proto: [String] = []
        var host: [String] = []

        public init() {}

        /// Records `value` when the field is one of the four chain fields (the canonical dashed
        /// names, any case: an underscore spelling classifies as `.other`); only those make strings.
        @inline(__always)
        public mutating func note(_ known: HTTPFieldName, value: UnsafeRawBufferPointer) {
            switch known {
            case .xForwardedFor: forwardedFor.append(String(decoding: value, as: UTF8.self))
            case .forwarded: forwarded.append(String(decoding: value, as: UTF8.self))
            case .xForwardedProto: proto.append(String(decoding: value, as: UTF8.self))
            case .xForwardedHost: host.append(String(decoding: value, as: UTF8.self))
            default: break
            }
        }
    }

    /// The fields `applyForwarding` adds, in order: X-Forwarded-For, X-Forwarded-Proto,
    /// X-Forwarded-Host, Forwarded, X-Request-Id. `prior` is empty unless the peer is trusted.
    public static func fields(hop: ClientHop, prior: PriorChain) -> [(name: String, value: String)] {
        var xff = hop.clientIP
        var forwarded = forwardedElement(hop)
        var proto = hop.scheme
        var host = hop.host
        if hop.trustForwarded {
            let priorXFF = prior.forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }
                .filter { !$0.isEmpty }.joined(separator: ", ")
            if !priorXFF.isEmpty { xff = priorXFF + ", " + xff }
            // Elements are joined as received: a quoted value may itself hold a comma.
            let priorFwd = prior.forwarded.map { Substring($0).trimmingOWS() }.filter { !$0.isEmpty }
                .joined(separator: ", ")
            if !priorFwd.isEmpty { forwarded = priorFwd + ", " + forwarded }
            if let p = single(prior.proto).flatMap(trustedProto) { proto = p }
            if let h = single(prior.host), isPlausibleHost(h) { host = h }
        }
        return [
            ("X-Forwarded-For", xff), ("X-Forwarded-Proto", proto), ("X-Forwarded-Host", host),
            ("Forwarded", forwarded), ("X-Request-Id", hop.requestID),
        ]
    }

    /// The value of a field sent exactly once, trimmed; nil when absent or repeated.
    private static func single(_ values: [String]) -> String? {
        guard values.count == 1 else { return nil }
        return String(Substring(values[0]).trimmingOWS())
    }

    /// `http` or `https` in any case, lowercased; nil for anything else (lists included).
    static func trustedProto(_ value: String) -> String? {
        let lower = value.lowercased()
        return lower == "http" || lower == "https" ? lower : nil
    }

    /// A host with an optional port: letters, digits, `-`, `.`, `:` and IPv6 brackets, at most
    /// 255 bytes (RFC 9110 §7.2 `uri-host [ ":" port ]`, minus the rarely used characters that
    /// would need quoting elsewhere). Lists and quoted strings are refused.
    static func isPlausibleHost(_ value: String) -> Bool {
        let u = value.utf8
        return !u.isEmpty && u.count <= 255 && u.allSatisfy { b in
            AuthASCII.isAlpha(b) || AuthASCII.isDigit(b) || b == 0x2D || b == 0x2E || b == 0x3A || b == 0x5B || b == 0x5D
        }
    }

    /// One RFC 7239 element; IPv6 addresses are bracketed and quoted.
    static func forwardedElement(_ hop: ClientHop) -> String {
        var out = HeadWriter(capacity: 64)
        writeForwardedElement(hop, to: &out)
        return String(decoding: out.finish(), as: UTF8.self)
    }

    /// `forwardedElement`, written into a head.
    static func writeForwardedElement(_ hop: ClientHop, to out: inout HeadWriter) {
        var ip = hop.clientIP, host = hop.host
        let ipv6 = ip.withUTF8 { $0.contains(UInt8(ascii: ":")) }
        // RFC 7239 token characters can go bare; anything else (a port's ':', IPv6) is quoted.
        let bare = host.withUTF8 { host in
            host.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x2D
            }
        }
        out.write("for=")
        if ipv6 { out.write("\"[") }
        ip.withUTF8 { out.writeSafe($0) }
        if ipv6 { out.write("]\"") }
        out.write(";host=")
        if !bare { out.write("\"") }
        host.withUTF8 { out.writeSafe($0) }
        if !bare { out.write("\"") }
        out.write(";proto=")
        out.writeSafe(hop.scheme)
    }

    /// `fields(hop:prior:)` written as `name: value CRLF` lines into a head. From an
    /// untrusted peer (the common case) no string is made, and with a `cache` whose lines were
    /// written for the same client, scheme and Host, they are copied instead.
    static func writeFields(hop: ClientHop, prior: PriorChain, cache: LinesCache? = nil, to out: inout HeadWriter) {
        if hop.trustForwarded {
            for field in fields(hop: hop, prior: prior) { out.writeField(named: field.name, field.value) }
            return
        }
        if let cache, cache.holds(hop) {
            cache.lines.withUnsafeBytes { out.write($0) }
        } else {
            let start = out.count
            out.writeField("X-Forwarded-For", hop.clientIP)
            out.writeField("X-Forwarded-Proto", hop.scheme)
            out.writeField("X-Forwarded-Host", hop.host)
            out.write("Forwarded: ")
            writeForwardedElement(hop, to: &out)
            out.crlf()
            cache?.keep(out.bytes(from: start), for: hop)
        }
        out.writeField("X-Request-Id", hop.requestID)
    }

    /// The forwarding lines last written for a client connection's requests from an untrusted
    /// peer. They depend only on the client's address, the scheme and the Host, which the
    /// requests of a keep-alive connection repeat: the next one copies them (writing them
    /// costs some 1,500 instructions, a twentieth of a proxied request). The request id is
    /// not among them.
    public final class LinesCache {
        private var clientIP = ""
        private var scheme = ""
        private var host = ""
        fileprivate private(set) var lines: [UInt8] = []

        public init() {}

        func holds(_ hop: ClientHop) -> Bool {
            !lines.isEmpty && hop.host == host && hop.clientIP == clientIP && hop.scheme == scheme
        }

        fileprivate func keep(_ lines: [UInt8], for hop: ClientHop) {
            self.lines = lines
            clientIP = hop.clientIP
            scheme = hop.scheme
            host = hop.host
        }
    }
}

/// Request ids: a client's is kept when it is short and plain, otherwise the gateway makes one.
public enum RequestID {
    public static let maxLength = 128

    /// Accepts 1...128 characters of `[A-Za-z0-9._:-]` (safe in logs and headers, not a token).
    public static func isValid(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= maxLength else { return false }
        return u.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }
}

/// Makes unique request ids cheaply: a random per-worker prefix and a counter.
///
/// `<7 random base-62 characters>-<counter, at least 7 hex digits>`: 15 bytes, which Swift
/// keeps inline in the `String` itself (no heap storage, no reference counting as the id is
/// handed from the connection to the exchange, the plan, the log), until the counter passes
/// 2^28 on one worker. 62^7 prefixes (about 42 bits) keep workers and restarts apart.
public struct RequestIDGenerator {
    /// Characters in a worker's prefix.
    public static let prefixLength = 7

    /// A prefix made of `random` (at least `prefixLength` bytes from a CSPRNG): base-62.
    public static func prefix(random: [UInt8]) -> String {
        precondition(random.count >= prefixLength, "a request id prefix takes \(prefixLength) random bytes")
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        return String(decoding: random.prefix(prefixLength).map { alphabet[Int($0) % alphabet.count] }, as: UTF8.self)
    }

    /// The prefix's bytes, copied in one go into each id (iterating a `String`'s UTF-8 view
    /// byte by byte cost more than the rest of making an id).
    private let prefix: [UInt8]
    private var counter: UInt64 = 0

    /// `randomPrefix`: hex from a CSPRNG, unique per worker and process start.
    public init(randomPrefix: String) { prefix = Array(randomPrefix.utf8) }

    /// For tests: the next id made is for `counter + 1`.
    init(randomPrefix: String, startingAfter counter: UInt64) {
        prefix = Array(randomPrefix.utf8)
        self.counter = counter
    }

    /// `<prefix>-<counter as at least 7 lowercase hex digits>`, written straight into the
    /// new string's storage (one per request, so no intermediate strings).
    public mutating func next() -> String {
        counter &+= 1
        let n = counter
        let hexDigits = (UInt64.bitWidth - n.leadingZeroBitCount + 3) / 4
        let width = max(7, hexDigits)
        return prefix.withUnsafeBytes { head in
            String(unsafeUninitializedCapacity: head.count + 1 + width) { out in
                let i = head.count
                if i > 0 {
                    UnsafeMutableRawPointer(out.baseAddress.unsafelyUnwrapped)
                        .copyMemory(from: head.baseAddress.unsafelyUnwrapped, byteCount: i)
                }
                out[i] = UInt8(ascii: "-")
                var v = n
                var j = i + width
                while j > i {
                    let d = UInt8(truncatingIfNeeded: v & 0xF)
                    out[j] = d < 10 ? 0x30 + d : 0x57 + d
                    v >>= 4
                    j -= 1
                }
                return i + 1 + width
            }
        }
    }
}
