import Testing
@testable import StreamgateCore

/// The head sent upstream, as bytes: what a route's policy, the client hop and the identity
/// make of the client's head.
@Suite struct UpstreamRequestTests {
    static let auth = UpstreamRequest.Policy.Credentials(forwardAuthorization: false, apiKeyHeader: "X-Api-Key", queryParameter: "access_token")
    let hop = ForwardingHeaders.ClientHop(clientIP: "192.0.2.10", scheme: "https", host: "gw.test", requestID: "rid-1", trustForwarded: false)
    static let forwarding = [
        "X-Forwarded-For: 192.0.2.10", "X-Forwarded-Proto: https", "X-Forwarded-Host: gw.test",
        "Forwarded: for=192.0.2.10;host=gw.test;proto=https", "X-Request-Id: rid-1",
    ]

    func request(_ fields: [(String, String)], method: String = "GET", path: String = "/events", query: String? = nil,
                 framing: BodyFraming = .none, authority: String = "gw.test") -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: path + (query.map { "?" + $0 } ?? ""), version: .http1_1,
                        headers: HTTPHeaders(fields.map { (name: $0.0, value: $0.1) }), framing: framing,
                        authority: authority, path: path, query: query, keepAlive: true)
    }

    /// The head's lines, without the final empty line.
    func lines(_ request: HTTPRequestHead, targetPath: String? = nil, policy: UpstreamRequest.Policy = .init(credentials: nil, lastEventIDParameter: nil),
               hop: ForwardingHeaders.ClientHop? = nil, identity: Identity? = nil, sign: (([UInt8]) -> [UInt8])? = nil) -> [String] {
        let bytes = UpstreamRequest.head(for: request, targetPath: targetPath ?? request.path, policy: policy, hop: hop ?? self.hop,
                                         identityHeaders: IdentityHeaders(), identity: identity, signer: sign.map(ClosureSigner.init))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\r\n\r\n"))
        return text.split(separator: "\r\n" as Character, omittingEmptySubsequences: false).dropLast(2).map(String.init)
    }

    @Test func canonicalTargetWithQueryAndHostFromAuthority() {
        let head = lines(request([("Host", "client-said.test"), ("Accept", "*/*")], path: "/a/b", query: "x=1&y",
                                 authority: "absolute.test:8080"), targetPath: "/up/a/b")
        #expect(head == ["GET /up/a/b?x=1&y HTTP/1.1", "Accept: */*"] + Self.forwarding + ["Host: absolute.test:8080"])
    }

    @Test func hopByHopAndConnectionListedFieldsAreDropped() {
        let head = lines(request([
            ("Connection", "keep-alive, X-Secret, x-auth-user-id, X-Forwarded-For"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic x"), ("Trailer", "X"), ("Proxy-Connection", "close"),
            ("x-secret", "dropped"), ("Accept", "*/*"),
        ]), identity: identity)
        #expect(head == ["GET /events HTTP/1.1", "Accept: */*"] + Self.forwarding + identityLines + ["Host: gw.test"])
    }

    let identity = Identity(session: SessionRecord(userID: "u-1", tenantID: "acme", expiresAt: 1_700_000_060, scopes: ["a", "b"]),
                            tokenSource: .authorizationHeader)
    let identityLines = ["X-Auth-User-Id: u-1", "X-Auth-Tenant-Id: acme", "X-Auth-Scopes: a b", "X-Auth-Expires-At: 1700000060"]

    @Test func framingFieldsAreRebuiltFromTheRequestsFraming() {
        let client = [("Content-Length", "999"), ("content_length", "1"), ("Transfer-Encoding", "gzip"), ("Transfer_Encoding", "x")]
        #expect(lines(request(client, method: "POST", framing: .contentLength(12))).suffix(2) == ["Content-Length: 12", "Host: gw.test"])
        #expect(lines(request(client, method: "POST", framing: .chunked)).suffix(2) == ["Transfer-Encoding: chunked", "Host: gw.test"])
        let none = lines(request(client, method: "GET"))
        #expect(!none.contains { $0.lowercased().hasPrefix("content") || $0.lowercased().hasPrefix("transfer") })
    }

    @Test func credentialsAreStrippedUnlessTheRouteForwardsThem() {
        let client = [("Authorization", "Bearer t"), ("x-api-key", "k"), ("Accept", "*/*")]
        let stripping = UpstreamRequest.Policy(credentials: Self.auth, lastEventIDParameter: nil)
        #expect(lines(request(client), policy: stripping)[1] == "Accept: */*")
        var forwarding = Self.auth
        forwarding.forwardAuthorization = true
        let kept = lines(request(client), policy: .init(credentials: forwarding, lastEventIDParameter: nil))
        #expect(Array(kept[1...3]) == ["Authorization: Bearer t", "x-api-key: k", "Accept: */*"])
        // Without an auth section the gateway strips nothing.
        #expect(lines(request(client))[1] == "Authorization: Bearer t")
    }

    @Test func queryTokenIsStrippedEvenWhenCredentialsAreForwarded() {
        var forwarding = Self.auth
        forwarding.forwardAuthorization = true
        for credentials in [Self.auth, forwarding] {
            let head = lines(request([], query: "a=1&access_token=secret&b=2&access_token"), policy: .init(credentials: credentials, lastEventIDParameter: nil))
            #expect(head[0] == "GET /events?a=1&b=2 HTTP/1.1")
        }
        let only = lines(request([], query: "access_token=secret"), policy: .init(credentials: Self.auth, lastEventIDParameter: nil))
        #expect(only[0] == "GET /events HTTP/1.1")
    }

    @Test func lastEventIDComesFromTheQueryWithoutOverridingTheClientsField() {
        let policy = UpstreamRequest.Policy(credentials: nil, lastEventIDParameter: "lastEventId")
        let fromQuery = lines(request([("Accept", "*/*")], query: "lastEventId=42%2F7&x=1"), policy: policy)
        #expect(fromQuery[0] == "GET /events?x=1 HTTP/1.1")
        #expect(Array(fromQuery[1...2]) == ["Accept: */*", "Last-Event-ID: 42/7"])
        let clientWins = lines(request([("last-event-id", "9")], query: "lastEventId=42"), policy: policy)
        #expect(clientWins[0] == "GET /events HTTP/1.1")
        #expect(clientWins.filter { $0.lowercased().hasPrefix("last-event-id") } == ["last-event-id: 9"])
        // A value that decodes to a line break would split the head: it is dropped, and the parameter still goes.
        let invalid = lines(request([], query: "lastEventId=a%0D%0AX-Evil:%201"), policy: policy)
        #expect(invalid[0] == "GET /events HTTP/1.1")
        #expect(!invalid.contains { $0.hasPrefix("Last-Event-ID") || $0.hasPrefix("X-Evil") })
        // A client field listed in Connection is gone, so the query's value is used.
        let hopDropped = lines(request([("Connection", "Last-Event-ID"), ("Last-Event-ID", "9")], query: "lastEventId=42"), policy: policy)
        #expect(hopDropped.contains("Last-Event-ID: 42"))
        #expect(!hopDropped.contains("Last-Event-ID: 9"))
    }

    @Test func identityFieldsReplaceEveryClientSpelling() {
        let client = [("X-Auth-User-Id", "evil"), ("x_auth_user_id", "evil"), ("X-AUTH-TENANT_ID", "evil"), ("x_auth_signature", "v1=00"),
                      ("Accept", "*/*")]
        #expect(lines(request(client), identity: identity) == ["GET /events HTTP/1.1", "Accept: */*"] + Self.forwarding + identityLines + ["Host: gw.test"])
        #expect(lines(request(client)) == ["GET /events HTTP/1.1", "Accept: */*"] + Self.forwarding + ["Host: gw.test"])
        var signed: [UInt8] = []
        let withSignature = lines(request(client), identity: identity, sign: { signed = $0; return [0xAB, 0x01] })
        #expect(withSignature.contains("X-Auth-Signature: v1=ab01"))
        #expect(String(decoding: signed, as: UTF8.self) == "v1\nu-1\nacme\na b\n1700000060\nrid-1")
    }

    @Test func forwardingFieldsExtendATrustedChainOnly() {
        let client = [("X-Forwarded-For", "203.0.113.1"), ("X_Forwarded_For", "6.6.6.6"), ("Forwarded", "for=203.0.113.1"),
                      ("X-Forwarded-Proto", "http"), ("X-Request-Id", "forged")]
        var trusted = hop
        trusted.trustForwarded = true
        #expect(Array(lines(request(client), hop: trusted)[1...5]) == [
            "X-Forwarded-For: 203.0.113.1, 192.0.2.10", "X-Forwarded-Proto: http", "X-Forwarded-Host: gw.test",
            "Forwarded: for=203.0.113.1, for=192.0.2.10;host=gw.test;proto=https", "X-Request-Id: rid-1",
        ])
        #expect(Array(lines(request(client))[1...5]) == Self.forwarding)
        // A chain field the client listed in Connection is not part of the chain.
        let listed = lines(request([("Connection", "X-Forwarded-For")] + client), hop: trusted)
        #expect(listed[1] == "X-Forwarded-For: 192.0.2.10")
    }

    /// A keep-alive connection's requests share one `LinesCache`: each head is the same as
    /// written without it, whatever changes between requests (Host, request id, client
    /// address, scheme, trust), and a request's lines never carry another's values.
    @Test func forwardingLinesReusedAcrossRequestsAreThoseWrittenAfresh() {
        let cache = ForwardingHeaders.LinesCache()
        func head(_ request: HTTPRequestHead, _ hop: ForwardingHeaders.ClientHop, cache: ForwardingHeaders.LinesCache?) -> [UInt8] {
            UpstreamRequest.withHead(for: request, targetPath: request.path, policy: .init(credentials: nil, lastEventIDParameter: nil),
                                     hop: hop, forwardingCache: cache, identityHeaders: IdentityHeaders(), identity: nil) { Array($0) }
        }
        var hops: [ForwardingHeaders.ClientHop] = []
        for (i, host) in ["gw.test", "gw.test", "other.test:8443", "gw.test", "[2001:db8::1]:443"].enumerated() {
            var h = hop
            h.host = host
            h.requestID = "rid-\(i)"
            hops.append(h)
        }
        var changed = hop
        changed.clientIP = "2001:db8::7"
        hops.append(changed)
        var http = hop
        http.scheme = "http"
        hops.append(http)
        var trusted = hop
        trusted.trustForwarded = true
        hops += [hop, trusted, hop]
        var hits = 0
        for h in hops {
            let req = request([("X-Forwarded-For", "203.0.113.1"), ("Accept", "*/*")], authority: h.host)
            if !h.trustForwarded && cache.holds(h) { hits += 1 }
            let fresh = head(req, h, cache: nil)
            let reused = head(req, h, cache: cache)
            #expect(reused == fresh, "\(h.host) \(h.clientIP) \(h.scheme) trusted=\(h.trustForwarded)")
        }
        // Reused for the second gw.test request and for the last, after a trusted peer's
        // request (which neither reads nor fills the cache); written afresh on every change.
        #expect(hits == 2)
    }

    @Test func matchesTheHeaderListSteps() {
        // The one-pass builder against the same steps done one by one on a header list.
        let client = [("Host", "h"), ("Connection", "X-A"), ("X-A", "1"), ("X-B", "2"), ("Authorization", "Bearer t"),
                      ("X-Forwarded-For", "203.0.113.1"), ("x-auth-scopes", "admin"), ("Content-Length", "3")]
        var trusted = hop
        trusted.trustForwarded = true
        var headers = HTTPHeaders(client.map { (name: $0.0, value: $0.1) })
        ForwardingHeaders.removeHopByHop(&headers)
        headers.remove(name: "authorization")
        headers.remove(name: "x-api-key")
        ForwardingHeaders.applyForwarding(&headers, hop: trusted)
        IdentityHeaders().apply(identity, to: &headers, requestID: "rid-1")
        headers.add(name: "Content-Length", value: "3")
        headers.add(name: "Host", value: "gw.test")
        let expected = HTTPSerializer.requestHead(method: "POST", target: "/events", version: .http1_1, headers: headers)
        let built = UpstreamRequest.head(for: request(client, method: "POST", framing: .contentLength(3)), targetPath: "/events",
                                         policy: .init(credentials: Self.auth, lastEventIDParameter: nil), hop: trusted,
                                         identityHeaders: IdentityHeaders(), identity: identity)
        #expect(built == expected)
    }

    /// Written in lent memory (the loop's head scratch), the head is the same bytes, whether
    /// it fits the scratch or spills out of a small one; the scratch keeps what fitted.
    @Test func aHeadWrittenInScratchIsTheSameHead() {
        let client = [("Host", "h"), ("Accept", "text/event-stream"), ("X-Long", String(repeating: "v", count: 300))]
        let req = request(client)
        let policy = UpstreamRequest.Policy(credentials: Self.auth, lastEventIDParameter: nil)
        let expected = UpstreamRequest.head(for: req, targetPath: "/events", policy: policy, hop: hop,
                                            identityHeaders: IdentityHeaders(), identity: identity)
        for size in [8192, 128, 0] {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { scratch.deallocate() }
            let written = UpstreamRequest.withHead(for: req, targetPath: "/events", policy: policy, hop: hop,
                                                   identityHeaders: IdentityHeaders(), identity: identity,
                                                   scratch: scratch) { Array($0) }
            #expect(written == expected, "scratch of \(size) bytes")
            if size >= 64 { #expect(Array(scratch.prefix(8)) == Array(expected.prefix(8))) }
        }
    }
}
