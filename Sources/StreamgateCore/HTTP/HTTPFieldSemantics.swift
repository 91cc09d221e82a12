/// Field values that decide framing, routing and connection reuse (RFC 9110, RFC 9112 §6).
enum HTTPFieldSemantics {
    /// Largest accepted Content-Length: lengths are handled as `Int` downstream.
    static let maxContentLength = UInt64(Int64.max)

    /// The value of a Content-Length field that is nothing but digits (the usual one field,
    /// read from its bytes without making strings), or nil: anything else (a list, spaces
    /// inside, a sign, an overflow) goes to `contentLength(_:)`, which decides it.
    static func plainContentLength(_ value: UnsafeRawBufferPointer) -> UInt64? {
        guard !value.isEmpty, value.count <= 19 else { return nil }
        var n: UInt64 = 0
        for b in value {
            guard HTTPByte.isDigit(b) else { return nil }
            n = n &* 10 &+ UInt64(b &- 0x30)
        }
        // 19 digits fit in a UInt64; the limit is Int64.max.
        return n <= maxContentLength ? n : nil
    }

    /// The Content-Length of a head with `fieldCount` such fields (nil when none): `plain` (the
    /// first field read from its bytes, `plainContentLength`) when it is the only one, else
    /// every value through `contentLength(_:)`. A valid list or repeat (`42, 42`) is collapsed
    /// in `headers` into one field, so what is forwarded is what was understood.
    static func resolvedContentLength(fieldCount: Int, plain: UInt64?, in headers: inout HTTPHeaders) -> ContentLengthResult? {
        if fieldCount == 0 { return nil }
        if fieldCount == 1, let plain { return .valid(plain) }
        let values = headers.values(.contentLength)
        let result = contentLength(values)
        if case .valid(let n) = result, fieldCount > 1 || values[0].utf8.contains(HTTPByte.comma) {
            headers.replaceOrAdd(name: "Content-Length", value: String(n))
        }
        return result
    }

    enum ContentLengthResult: Equatable {
        case valid(UInt64)
        case invalid
        case differing
    }

    /// Validates every Content-Length value together (RFC 9112 §6.3 rule 5).
    ///
    /// Members must be `1*DIGIT`, no sign, no empty member, no overflow. Repeated *identical*
    /// values (`42, 42` or two fields saying 42) are accepted as the RFC allows and collapsed
    /// by the caller into one field; any disagreement is refused, in requests and responses
    /// alike, because two parsers could pick different ones.
    static func contentLength(_ values: [String]) -> ContentLengthResult {
        var result: UInt64?
        for value in values {
            var current: UInt64 = 0
            var digits = 0
            var sawMember = false
            var trailingSpace = false
            func finishMember() -> ContentLengthResult? {
                guard digits > 0 else { return .invalid }
                if let r = result, r != current { return .differing }
                result = current
                return nil
            }
            for b in value.utf8 {
                if HTTPByte.isDigit(b) {
                    if trailingSpace { return .invalid }
                    let (m, o1) = current.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(b &- 0x30))
                    if o1 || o2 || a > maxContentLength { return .invalid }
                    current = a
                    digits += 1
                    sawMember = true
                } else if b == HTTPByte.comma {
                    if let bad = finishMember() { return bad }
                    current = 0; digits = 0; sawMember = false; trailingSpace = false
                } else if HTTPByte.isOWS(b) {
                    if sawMember { trailingSpace = true }
                } else {
                    return .invalid
                }
            }
            if let bad = finishMember() { return bad }
        }
        guard let result else { return .invalid }
        return .valid(result)
    }

    struct TransferCodings {
        /// Non-empty members, lowercased, parameters included.
        var codings: [String] = []
        var chunkedCount = 0
        var chunkedIsLast = false
        /// `chunked` takes no parameters; `chunked;x=1` is a framing fault, not another coding.
        var chunkedHasParameters = false
    }

    /// Splits Transfer-Encoding values into codings (`token *( OWS ";" OWS param )`); nil when
    /// a member is not a valid transfer-coding or the list is empty.
    static func transferCodings(_ values: [String]) -> TransferCodings? {
        var out = TransferCodings()
        for value in values {
            for member in value.utf8.split(separator: HTTPByte.comma, omittingEmptySubsequences: false) {
                var s = member.startIndex
                var e = member.endIndex
                while s < e && HTTPByte.isOWS(member[s]) { s = member.index(after: s) }
                while e > s && HTTPByte.isOWS(member[member.index(before: e)]) { e = member.index(before: e) }
                let m = member[s..<e]
                if m.isEmpty { continue }  // RFC 9110 §5.6.1: empty list elements are ignored.
                guard let first = m.first, HTTPByte.isToken(first) else { return nil }
                // Name must be a token; whatever follows must start a parameter.
                var i = m.startIndex
                while i < m.endIndex && HTTPByte.isToken(m[i]) { i = m.index(after: i) }
                var j = i
                while j < m.endIndex && HTTPByte.isOWS(m[j]) { j = m.index(after: j) }
                if j < m.endIndex && m[j] != HTTPByte.semicolon { return nil }
                if m.contains(where: { !HTTPByte.isFieldContent($0) }) { return nil }
                let coding = String(asciiLowercasing: m)
                if m[m.startIndex..<i].elementsEqual("chunked".utf8, by: { HTTPByte.lower($0) == $1 }) {
                    out.chunkedCount += 1
                    if i < m.endIndex { out.chunkedHasParameters = true }
                }
                out.codings.append(coding)
            }
        }
        guard let last = out.codings.last else { return nil }
        out.chunkedIsLast = last.utf8.starts(with: "chunked".utf8)
        return out
    }

    /// Whether a comma-separated field (Connection) lists `token`, ignoring case.
    static func listContains(_ values: [String], _ token: StaticString) -> Bool {
        for value in values {
            for member in value.utf8.split(separator: HTTPByte.comma) {
                var s = member.startIndex
                var e = member.endIndex
                while s < e && HTTPByte.isOWS(member[s]) { s = member.index(after: s) }
                while e > s && HTTPByte.isOWS(member[member.index(before: e)]) { e = member.index(before: e) }
                let m = member[s..<e]
                guard m.count == token.utf8CodeUnitCount else { continue }
                let p = token.utf8Start
                var equal = true
                var k = 0
                for b in m {
                    if HTTPByte.lower(b) != p[k] { equal = false; break }
                    k += 1
                }
                if equal { return true }
            }
        }
        return false
    }

    /// Validates `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2) and returns it
    /// lowercased, or nil when invalid.
    ///
    /// Deliberately narrower than RFC 3986 reg-name: letters, digits, `-`, `.`, `_` only. The
    /// authority selects a route, so percent-escapes and sub-delims (`%2e`, `!`, `;`) that one
    /// component might decode and another not are refused rather than normalised. Userinfo
    /// (`@`) is refused: it is not allowed in Host and is a phishing vector in absolute-form.
    /// An empty port (`host:`) is valid per RFC 3986 and normalised away.
    static func normalizedAuthority(_ a: UnsafeRawBufferPointer) -> String? {
        let n = a.count
        guard n > 0 else { return nil }
        var i = 0
        if a[0] == UInt8(ascii: "[") {
            // IP-literal: IPv6 (hex, colons, dots for an embedded IPv4). IPvFuture is refused.
            i = 1
            var sawColon = false
            while i < n && a[i] != UInt8(ascii: "]") {
                let b = a[i]
                guard HTTPByte.hexValue(b) != nil || b == HTTPByte.colon || b == UInt8(ascii: ".") else { return nil }
                if b == HTTPByte.colon { sawColon = true }
                i += 1
            }
            guard i < n, i > 1, sawColon else { return nil }
            i += 1
        } else {
            while i < n && a[i] != HTTPByte.colon {
                let b = a[i]
                let ok = HTTPByte.isDigit(b) || HTTPByte.lower(b) &- 0x61 < 26
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
                guard ok else { return nil }
                if b == UInt8(ascii: "."), i > 0, a[i - 1] == UInt8(ascii: ".") { return nil }
                i += 1
            }
            guard i > 0 else { return nil }
        }
        let hostEnd = i
        if i == n { return String(asciiLowercasing: a.slice(0, hostEnd)) }
        guard a[i] == HTTPByte.colon else { return nil }
        i += 1
        if i == n { return String(asciiLowercasing: a.slice(0, hostEnd)) }
        guard n - i <= 5 else { return nil }
        var port = 0
        while i < n {
            guard HTTPByte.isDigit(a[i]) else { return nil }
            port = port * 10 + Int(a[i] &- 0x30)
            i += 1
        }
        guard port <= 65535 else { return nil }
        return String(asciiLowercasing: a)
    }

    static func normalizedAuthority(_ value: String) -> String? {
        var v = value
        return v.withUTF8 { normalizedAuthority(UnsafeRawBufferPointer($0)) }
    }
}
