/// The request head the gateway sends upstream, built from the client's head in one pass and
/// serialised straight to bytes.
///
/// Field order in the result: the client's surviving fields as received, then Last-Event-ID
/// (from the query), the forwarding fields (`ForwardingHeaders`), the identity fields
/// (`IdentityHeaders`), the framing field, and Host.
///
/// Security order (RFC 9110 §7.6.1): hop-by-hop fields, including every name the client lists
/// in `Connection`, are dropped from the client's list only; the gateway's own fields are
/// added afterwards, so `Connection: X-Auth-User-Id` cannot delete what the gateway injects.
public enum UpstreamRequest {
    /// What the route says about credentials and the query.
    public struct Policy: Sendable, Equatable {
        /// When the gateway authenticates (an `[auth]` section): which credentials it strips.
        public struct Credentials: Sendable, Equatable {
            /// Authorization and the API-key header travel on only when the route says so.
            public var forwardAuthorization: Bool
            public var apiKeyHeader: String
            /// The query token's parameter: removed from the target always (RFC 6750 §5.3).
            public var queryParameter: String

            public init(forwardAuthorization: Bool, apiKeyHeader: String, queryParameter: String) {
                self.forwardAuthorization = forwardAuthorization
                self.apiKeyHeader = apiKeyHeader
                self.queryParameter = queryParameter
            }
        }

        /// nil when the gateway does not authenticate: no credential is stripped.
        public var credentials: Credentials?
        /// `last_event_id_param`: moved from the query into a Last-Event-ID field.
        public var lastEventIDParameter: String?

        public init(credentials: Credentials?, lastEventIDParameter: String?) {
            self.credentials = credentials
            self.lastEventIDParameter = lastEventIDParameter
        }
    }

    /// The head to send for `request`.
    ///
    /// - Parameters:
    ///   - targetPath: the upstream path (the route's rewrite of `request.path`); the
    ///     request's query is appended, less the token and Last-Event-ID parameters.
    ///   - hop: the client hop for the forwarding fields; its `host` is what X-Forwarded-Host
    ///     and Forwarded report.
    ///   - identity: the caller, or nil for an anonymous request (client copies of the
    ///     identity fields are stripped either way).
    ///   - signer: signs the identity assertion, when signing is on.
    ///   - scratch: memory to write the head in (`withHead` only; the head is lent to `body`),
    ///     so that the usual head needs no allocation.
    /// The body framing is the request's own: Content-Length and Transfer-Encoding are
    /// written from `request.framing`, never copied from the client.
    public static func head(
        for request: HTTPRequestHead, targetPath: String, policy: Policy, hop: ForwardingHeaders.ClientHop,
        identityHeaders: IdentityHeaders, identity: Identity?, signer: (any IdentitySigner)? = nil
    ) -> [UInt8] {
        withHead(for: request, targetPath: targetPath, policy: policy, hop: hop, identityHeaders: identityHeaders,
                 identity: identity, signer: signer) { Array($0) }
    }

    /// `head(for:...)` lent to `body` instead of returned: the exchange sends it from where it
    /// was written, without an array made and freed per request.
    @discardableResult
    public static func withHead<R>(
        for request: HTTPRequestHead, targetPath: String, policy: Policy, hop: ForwardingHeaders.ClientHop,
        forwardingCache: ForwardingHeaders.LinesCache? = nil,
        identityHeaders: IdentityHeaders, identity: Identity?, signer: (any IdentitySigner)? = nil,
        scratch: UnsafeMutableRawBufferPointer? = nil,
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        let (target, lastEventID) = self.target(for: request, path: targetPath, policy: policy)

        // `scratch`: memory the caller lends for the head (it is sent before this returns).
        var out = scratch.map { HeadWriter(scratch: $0) }
            ?? HeadWriter(capacity: 512 + target.utf8.count + request.headers.wireByteCount)
        out.writeSafe(request.method)
        out.write(HTTPByte.sp)
        out.writeSafe(target)
        out.write(HTTPByte.sp)
        HTTPSerializer.writeVersion(.http1_1, to: &out)
        out.crlf()

        let listed = request.headers.contains(.connection) ? request.headers.listMembers(name: "connection").map(String.init) : []
        let stripped = policy.credentials.flatMap { $0.forwardAuthorization ? nil : $0.apiKeyHeader }
        var prior = ForwardingHeaders.PriorChain()
        var hasLastEventID = false
        // Names were classified when parsed: known ones are decided by class, and the client's
        // surviving fields are copied as received, bytes to bytes.
        request.headers.forEachField { known, name, value in
            if ForwardingHeaders.isHopByHop(known) || listed.contains(where: { AuthASCII.headerNamesEqual(name, $0) }) {
                return
            }
            if let stripped, known == .authorization || AuthASCII.headerNamesEqual(name, stripped) {
                return
            }
            if hop.trustForwarded { prior.note(known, value: value) }
            if known == .lastEventID { hasLastEventID = true }
            if ForwardingHeaders.isOwned(known, name) || identityHeaders.isOwned(name) { return }
            out.writeField(name: name, value: value)
        }
        // A client's own Last-Event-ID wins over the query parameter.
        if !hasLastEventID, let value = lastEventID { out.writeField("Last-Event-ID", value) }
        ForwardingHeaders.writeFields(hop: hop, prior: prior, cache: forwardingCache, to: &out)
        identityHeaders.write(for: identity, requestID: hop.requestID, signer: signer, to: &out)
        switch request.framing {
        case .contentLength(let n): out.writeField("Content-Length", String(n))
        case .chunked: out.writeField("Transfer-Encoding", "chunked")
        case .none, .untilClose: break
        }
        // The request's authority: an absolute-form target's overrides the client's Host (RFC 9112 §3.2.2).
        out.writeField("Host", request.authority)
        out.crlf()
        return out.withBytes(body)
    }

    /// The upstream target (`path?query`, less the token and Last-Event-ID parameters) and the
    /// Last-Event-ID the query carried: the first occurrence, percent-decoded, when it is a
    /// valid field value (an invalid one is dropped, never sent).
    public static func target(for request: HTTPRequestHead, path: String, policy: Policy) -> (target: String, lastEventID: String?) {
        // No query, nothing to strip or move: the usual request is done here.
        guard let q = request.query else { return (path, nil) }
        var target = path
        target += "?"
        target += q
        if let credentials = policy.credentials {
            target = QueryTokenStripper.removing(parameter: credentials.queryParameter, from: target)
        }
        var lastEventID: String?
        if let param = policy.lastEventIDParameter {
            let (values, rest) = QueryTokenStripper.extracting(parameter: param, from: target)
            target = rest
            if let raw = values.first, let value = QueryTokenStripper.percentDecoded(raw), isValidHTTPFieldValue(value) {
                lastEventID = value
            }
        }
        return (target, lastEventID)
    }
}
