/// Where a bearer token was found.
public enum TokenSource: String, Sendable, Equatable, Hashable {
    /// `Authorization: Bearer <token>`.
    case authorizationHeader
    /// The configured API-key header (`[auth] api_key_header`, default `X-Api-Key`).
    case apiKeyHeader
    /// The configured query parameter (`[auth] query_param`, default `access_token`), only
    /// on routes with `query_token = true`: browsers' `EventSource` cannot set headers.
    case query
}

/// Why a request's credentials were refused before any lookup. For logs and metrics only:
/// the client is told `invalid_request` and nothing more.
public enum MalformedTokenReason: String, Sendable, Equatable {
    /// More than one `Authorization` field, API-key field or query parameter.
    case repeated
    /// Both `Authorization` and the API-key header, with different tokens.
    case conflicting
    /// `Bearer` with no token, or an empty API-key header or query value.
    case empty
    /// Longer than `maxTokenLength`.
    case tooLong
    /// A character outside the RFC 6750 §2.1 `b64token` set, or an undecodable query value.
    case invalidCharacters
    /// `Authorization` not of the form `Bearer 1*SP b64token`.
    case badAuthorizationSyntax
}

/// The outcome of looking for a token in a request.
public enum TokenExtraction: Sendable, Equatable {
    /// No credentials at all (or only an `Authorization` field of another scheme).
    case none
    /// A syntactically valid token: safe to hash and look up.
    case token(String, source: TokenSource)
    /// Refuse with 400 `invalid_request` without any lookup.
    case malformed(MalformedTokenReason)
}

/// Finds the bearer token of a request, checking its length and character set before
/// anything looks it up (REFERENCES.md, "Bearer tokens").
///
/// Precedence: a header token wins over a query token (the query one is then ignored, and
/// still stripped from the upstream target by the caller). `Authorization` and the API-key
/// header may both be present only when they carry the same token.
///
/// An `Authorization` field with another scheme (`Basic ...`) carries no bearer token and
/// is treated as absent: the answer to it is the 401 `Bearer` challenge (RFC 9110
/// §11.6.1), which names the scheme the client should have used.
public struct TokenExtractor: Sendable, Equatable {
    public static let defaultMaxTokenLength = 4096

    /// `[auth] api_key_header`.
    public var apiKeyHeader: String
    /// `[auth] query_param`.
    public var queryParameter: String
    /// Tokens longer than this (in bytes, after percent-decoding) are malformed.
    public var maxTokenLength: Int

    public init(apiKeyHeader: String = "X-Api-Key", queryParameter: String = "access_token",
                maxTokenLength: Int = TokenExtractor.defaultMaxTokenLength) {
        self.apiKeyHeader = apiKeyHeader
        self.queryParameter = queryParameter
        self.maxTokenLength = maxTokenLength
    }

    /// - Parameters:
    ///   - headers: the request's header fields.
    ///   - query: the raw query without `?` (`HTTPRequestHead.query`).
    ///   - allowQueryToken: the route's `query_token` setting.
    public func extract(headers: HTTPHeaders, query: String?, allowQueryToken: Bool) -> TokenExtraction {
        // One pass over the classified fields: the first Authorization and API-key field are
        // parsed from their bytes (a string is made for the token only), later ones counted.
        let apiKeyName = HTTPFieldName.classify(apiKeyHeader)
        var authorizationCount = 0, apiKeyCount = 0
        var authorization: AuthorizationParse?
        var apiKey: KeyParse?
        headers.forEachField { known, name, value in
            if known == .authorization {
                authorizationCount += 1
                if authorizationCount == 1 { authorization = parseAuthorization(value) }
            }
            if apiKeyName == .other ? (known == .other && AuthASCII.headerNamesEqual(name, apiKeyHeader)) : known == apiKeyName {
                apiKeyCount += 1
                if apiKeyCount == 1 { apiKey = parseAPIKey(value) }
            }
        }
        guard authorizationCount <= 1, apiKeyCount <= 1 else { return .malformed(.repeated) }

        var bearer: String?
        switch authorization {
        case nil, .notBearer?: break
        case .malformed(let reason)?: return .malformed(reason)
        case .token(let t)?: bearer = t
        }

        var key: String?
        switch apiKey {
        case nil: break
        case .malformed(let reason)?: return .malformed(reason)
        case .token(let t)?: key = t
        }

        switch (bearer, key) {
        case let (b?, k?):
            // Two credentials are only coherent when they are the same one; otherwise the
            // request "uses more than one method" (RFC 6750 §3.1).
            return ConstantTime.equals(b.utf8, k.utf8) ? .token(b, source: .authorizationHeader) : .malformed(.conflicting)
        case let (b?, nil): return .token(b, source: .authorizationHeader)
        case let (nil, k?): return .token(k, source: .apiKeyHeader)
        case (nil, nil): break
        }

        guard allowQueryToken, let query else { return .none }
        let raws = QueryTokenStripper.values(of: queryParameter, inQuery: Substring(query))
        guard let raw = raws.first else { return .none }
        guard raws.count == 1 else { return .malformed(.repeated) }
        // Bound the work before decoding: an escape is at most three bytes per token byte.
        guard raw.utf8.count <= maxTokenLength * 3 else { return .malformed(.tooLong) }
        // b64token characters need no escaping, but clients do send `+`, `/`, `=` as
        // %2B, %2F, %3D. `+` stays `+` (not form-decoded to a space: a space is never valid).
        guard let value = QueryTokenStripper.percentDecoded(raw) else { return .malformed(.invalidCharacters) }
        if let reason = validate(value) { return .malformed(reason) }
        return .token(value, source: .query)
    }

    /// `extract(headers:query:allowQueryToken:)` on a parsed request head.
    public func extract(from head: HTTPRequestHead, allowQueryToken: Bool) -> TokenExtraction {
        extract(headers: head.headers, query: head.query, allowQueryToken: allowQueryToken)
    }

    private enum AuthorizationParse {
        case notBearer
        case token(String)
        case malformed(MalformedTokenReason)
    }

    /// `credentials = auth-scheme [ 1*SP token68 ]` (RFC 9110 §11.4), scheme compared
    /// case-insensitively, surrounding OWS tolerated.
    private func parseAuthorization(_ field: UnsafeRawBufferPointer) -> AuthorizationParse {
        let value = Self.trimmingOWS(field)
        var schemeEnd = 0
        while schemeEnd < value.count && !HTTPByte.isOWS(value[schemeEnd]) { schemeEnd += 1 }
        guard value.slice(0, schemeEnd).equalsLowercased("bearer") else { return .notBearer }
        var start = schemeEnd
        while start < value.count, value[start] == HTTPByte.sp { start += 1 }
        let token = value.slice(start, value.count)
        if let reason = validate(token) { return .malformed(reason) }
        return .token(String(decoding: token, as: UTF8.self))
    }

    private enum KeyParse {
        case token(String)
        case malformed(MalformedTokenReason)
    }

    private func parseAPIKey(_ field: UnsafeRawBufferPointer) -> KeyParse {
        let value = Self.trimmingOWS(field)
        if let reason = validate(value) { return .malformed(reason) }
        return .token(String(decoding: value, as: UTF8.self))
    }

    private static func trimmingOWS(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0, end = p.count
        while start < end && HTTPByte.isOWS(p[start]) { start += 1 }
        while end > start && HTTPByte.isOWS(p[end - 1]) { end -= 1 }
        return p.slice(start, end)
    }

    /// Nil when `token` is a non-empty RFC 6750 b64token within the length limit:
    /// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. Public for tools that
    /// store tokens (`streamgate session create --token`): one the gateway would refuse is useless.
    public func validate(_ token: String) -> MalformedTokenReason? {
        var token = token
        return token.withUTF8 { validate(UnsafeRawBufferPointer($0)) }
    }

    func validate(_ token: UnsafeRawBufferPointer) -> MalformedTokenReason? {
        guard !token.isEmpty else { return .empty }
        guard token.count <= maxTokenLength else { return .tooLong }
        var sawBody = false
        var inPadding = false
        for c in token {
            if c == UInt8(ascii: "=") {
                guard sawBody else { return .invalidCharacters }
                inPadding = true
                continue
            }
            guard !inPadding, Self.isB64TokenBodyByte(c) else { return .invalidCharacters }
            sawBody = true
        }
        return nil
    }

    @inline(__always)
    static func isB64TokenBodyByte(_ c: UInt8) -> Bool {
        // ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" as bitmasks (bit n = byte n, and
        // n - 64): one shift per byte of every token.
        if c < 64 { return (0x03FF_E800_0000_0000 as UInt64) >> UInt64(c) & 1 == 1 }
        if c < 128 { return (0x47FF_FFFE_87FF_FFFE as UInt64) >> UInt64(c &- 64) & 1 == 1 }
        return false
    }
}
