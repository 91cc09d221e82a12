import Testing
@testable import StreamgateCore

@Suite("AuthIdentityHeaders")
struct AuthIdentityHeadersTests {
    let names = IdentityHeaders()
    let identity = Identity(
        session: SessionRecord(userID: "u-1", tenantID: "acme", expiresAt: 1_700_000_060, scopes: ["events:read", "x"]),
        tokenSource: .authorizationHeader)

    @Test func spoofedVariantsAreAllStripped() {
        var headers = HTTPHeaders([
            ("Host", "h"),
            ("X-Auth-User-Id", "evil"), ("x-auth-user-id", "evil"), ("X_AUTH_USER_ID", "evil"), ("x_Auth-User_id", "evil"),
            ("X-Auth-Tenant-Id", "evil"), ("X-AUTH-TENANT_ID", "evil"),
            ("X-Auth-Scopes", "admin"), ("x_auth_scopes", "admin"),
            ("X-Auth-Expires-At", "9999999999"), ("X-Auth-Signature", "v1=00"), ("x_auth_signature", "v1=00"),
            ("X-Auth-User-Idx", "kept"), ("X-Auth-User", "kept"), ("Accept", "text/event-stream"),
        ])
        names.strip(&headers)
        #expect(headers.map(\.name) == ["Host", "X-Auth-User-Idx", "X-Auth-User", "Accept"])
    }

    /// `strip` skips names by length with a 64-bit mask: owned names of 64 bytes or more must
    /// still be stripped (a name that long is legal in config), and long unowned ones kept.
    @Test func longOwnedNamesAreStrippedToo() {
        let long = "X-" + String(repeating: "Tenant", count: 12)  // 74 bytes
        var custom = IdentityHeaders()
        custom.tenantHeader = long
        var headers = HTTPHeaders([(long.uppercased(), "evil"), (String(long.map { $0 == "-" ? "_" : $0 }), "evil"),
                                   (long + "x", "kept"), ("X-Auth-User-Id", "evil"), ("Accept", "*/*")])
        custom.strip(&headers)
        #expect(headers.map(\.name) == [long + "x", "Accept"])
        var plain = HTTPHeaders([(long, "kept"), ("x_auth_user_id", "evil")])
        names.strip(&plain)
        #expect(plain.map(\.name) == [long])
    }

    @Test func applyStripsThenInjects() {
        var headers = HTTPHeaders([("X_Auth_User_Id", "evil"), ("Accept", "*/*")])
        names.apply(identity, to: &headers, requestID: "req-1")
        #expect(headers == HTTPHeaders([
            ("Accept", "*/*"), ("X-Auth-User-Id", "u-1"), ("X-Auth-Tenant-Id", "acme"),
            ("X-Auth-Scopes", "events:read x"), ("X-Auth-Expires-At", "1700000060"),
        ]))
    }

    @Test func anonymousOnlyStrips() {
        var headers = HTTPHeaders([("x-auth-user-id", "evil"), ("X-Auth-Signature", "v1=ab")])
        names.apply(nil, to: &headers, requestID: "r", sign: { _ in [1] })
        #expect(headers.count == 0)
    }

    @Test func customNamesAreHonoured() {
        let custom = IdentityHeaders(userHeader: "X-User", tenantHeader: "X-Org", scopesHeader: "X-Perms",
                                     expiresHeader: "X-Exp", signatureHeader: "X-Sig")
        var headers = HTTPHeaders([("x_user", "e"), ("X-ORG", "e"), ("X-Auth-User-Id", "not ours, kept")])
        custom.apply(identity, to: &headers, requestID: "r")
        #expect(headers.values(name: "X-User") == ["u-1"])
        #expect(headers.values(name: "X-Org") == ["acme"])
        #expect(headers.values(name: "X-Auth-User-Id") == ["not ours, kept"])
    }

    @Test func signingInputFormat() {
        let input = IdentityHeaders.signingInput(user: "u-1", tenant: "acme", scopes: "events:read x",
                                                 expiresAt: 1_700_000_060, requestID: "req-1")
        #expect(input.map { String(decoding: $0, as: UTF8.self) } == "v1\nu-1\nacme\nevents:read x\n1700000060\nreq-1")
        let noExpiry = IdentityHeaders.signingInput(user: "u", tenant: "t", scopes: "", expiresAt: nil, requestID: "r")
        #expect(noExpiry.map { String(decoding: $0, as: UTF8.self) } == "v1\nu\nt\n\n\nr")
        #expect(IdentityHeaders.signingInput(user: "u\nt", tenant: "x", scopes: "", expiresAt: nil, requestID: "r") == nil)
        #expect(IdentityHeaders.signingInput(user: "u", tenant: "t", scopes: "", expiresAt: nil, requestID: "r\r") == nil)
    }

    @Test func signatureHeaderUsesCallerHMAC() {
        var seen: [UInt8] = []
        var headers = HTTPHeaders([("X-Auth-Signature", "v1=forged")])
        names.apply(identity, to: &headers, requestID: "req-1", sign: { input in
            seen = input
            return [0xde, 0xad, 0xbe, 0xef]
        })
        #expect(headers.values(name: "X-Auth-Signature") == ["v1=deadbeef"])
        #expect(String(decoding: seen, as: UTF8.self) == "v1\nu-1\nacme\nevents:read x\n1700000060\nreq-1")
        #expect(IdentityHeaders.signatureValue(mac: [0x00, 0x0f, 0xf0]) == "v1=000ff0")
    }

    /// A record renders its identity values once; a write to the record renders them again,
    /// so a changed session can never be forwarded or signed with its old values.
    @Test func recordRendersItsIdentityFieldsAndRerendersOnWrite() {
        var record = identity.session
        #expect(record.identityFields.scopes == "events:read x")
        #expect(record.identityFields.expires == "1700000060")
        #expect(record.identityFields.signedPart.map { String(decoding: $0, as: UTF8.self) } == "v1\nu-1\nacme\nevents:read x\n1700000060\n")
        let before = record
        record.scopes = ["only"]
        record.expiresAt = nil
        #expect(record.identityFields.scopes == "only" && record.identityFields.expires == nil)
        #expect(record.identityFields.signedPart.map { String(decoding: $0, as: UTF8.self) } == "v1\nu-1\nacme\nonly\n\n")
        #expect(record != before && before.identityFields.scopes == "events:read x")
        // Equal values are equal records whatever their boxes.
        #expect(SessionRecord(userID: "u", tenantID: "t") == SessionRecord(userID: "u", tenantID: "t"))
        // A value that cannot be signed leaves the record unsignable, not mis-signed.
        #expect(SessionRecord(userID: "u\u{7F}", tenantID: "t").identityFields.signedPart == nil)
    }

    /// The head writer (used per request) signs exactly what `fields(for:)` signs, and writes
    /// the same fields, for sessions with and without expiry and with several scopes.
    @Test func headWriterMatchesTheFieldList() {
        // The last one holds a control character: written through the checking path, unsigned.
        let sessions = [identity.session, SessionRecord(userID: "u", tenantID: "t"),
                        SessionRecord(userID: "user-2", tenantID: "t2", expiresAt: -5, scopes: ["a", "b", "c"]),
                        SessionRecord(userID: "u\u{7F}", tenantID: "t")]
        for session in sessions {
            let who = Identity(session: session, tokenSource: .authorizationHeader)
            var listed: [UInt8] = [], written: [UInt8] = []
            let fields = names.fields(for: who, requestID: "rid", sign: { listed = $0; return [0x01, 0xfe] })
            var out = HeadWriter(capacity: 64)
            names.write(for: who, requestID: "rid", signer: ClosureSigner { written = $0; return [0x01, 0xfe] }, to: &out)
            let text = String(decoding: out.finish(), as: UTF8.self)
            #expect(text == fields.map { "\($0.name): \($0.value)\r\n" }.joined())
            #expect(listed == written)
            #expect(text.hasSuffix("X-Auth-Signature: v1=01fe\r\n") == (session.identityFields.signedPart != nil))
        }
    }

    /// A configured name with a line break (config validation refuses one; the type does not)
    /// is written through the checking path: it cannot split the head.
    @Test func aNameWithALineBreakCannotSplitTheHead() {
        let odd = IdentityHeaders(userHeader: "X-User\r\nX-Injected: 1")
        var out = HeadWriter(capacity: 64)
        odd.write(for: identity, requestID: "rid", signer: nil, to: &out)
        let text = String(decoding: out.finish(), as: UTF8.self)
        #expect(text.hasPrefix("X-User  X-Injected: 1: u-1\r\n"))
        #expect(!text.contains("\r\nX-Injected"))
    }

    @Test func unsignableRequestGetsNoSignature() {
        var headers = HTTPHeaders()
        names.apply(identity, to: &headers, requestID: "bad\nid", sign: { _ in [1] })
        #expect(!headers.contains(name: "X-Auth-Signature"))
        #expect(headers.contains(name: "X-Auth-User-Id"))
    }
}

@Suite("AuthCORSPolicy")
struct AuthCORSPolicyTests {
    let listed = CORSPolicy(origins: .list([WebOrigin("https://app.example.com")!, WebOrigin("http://localhost:3000")!]),
                            allowedMethods: ["GET", "HEAD"], maxAgeSeconds: 300)

    @Test func preflightAllowed() throws {
        let result = listed.preflight(origin: "https://app.example.com", requestMethod: "GET",
                                      requestHeaders: ["authorization", "Last-Event-ID", "x-api-key"])
        guard case .allowed(let h) = result else { Issue.record("refused: \(result)"); return }
        #expect(h["Access-Control-Allow-Origin"] == "https://app.example.com")
        #expect(h["Access-Control-Allow-Credentials"] == "true")
        #expect(h["Access-Control-Allow-Methods"] == "GET, HEAD")
        #expect(h["Access-Control-Allow-Headers"] == "Authorization, Last-Event-ID, X-Api-Key")
        #expect(h["Access-Control-Max-Age"] == "300")
        #expect(h.listMembers(name: "Vary").contains("Origin"))
    }

    @Test func preflightEchoesOriginAsSent() {
        guard case .allowed(let h) = listed.preflight(origin: "HTTPS://app.example.com:443", requestMethod: "GET", requestHeaders: []) else {
            Issue.record("refused"); return
        }
        #expect(h["Access-Control-Allow-Origin"] == "HTTPS://app.example.com:443")
    }

    @Test func preflightRefusals() {
        #expect(listed.preflight(origin: nil, requestMethod: "GET", requestHeaders: []) == .refused(.missingOrigin))
        #expect(listed.preflight(origin: "https://evil.example", requestMethod: "GET", requestHeaders: []) == .refused(.originNotAllowed))
        #expect(listed.preflight(origin: "null", requestMethod: "GET", requestHeaders: []) == .refused(.originNotAllowed))
        #expect(listed.preflight(origin: "http://localhost:3001", requestMethod: "GET", requestHeaders: []) == .refused(.originNotAllowed))
        #expect(listed.preflight(origin: "https://app.example.com", requestMethod: "POST", requestHeaders: []) == .refused(.methodNotAllowed))
        #expect(listed.preflight(origin: "https://app.example.com", requestMethod: "get", requestHeaders: []) == .refused(.methodNotAllowed))
        #expect(listed.preflight(origin: "https://app.example.com", requestMethod: nil, requestHeaders: []) == .refused(.methodNotAllowed))
        #expect(listed.preflight(origin: "https://app.example.com", requestMethod: "GET", requestHeaders: ["X-Custom"]) == .refused(.headerNotAllowed))
    }

    @Test func preflightFromHeaders() {
        let headers = HTTPHeaders([("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "GET"),
                                   ("Access-Control-Request-Headers", "authorization, last-event-id")])
        guard case .allowed = listed.preflight(headers: headers) else { Issue.record("refused"); return }
        let custom = CORSPolicy(origins: .list([WebOrigin("http://localhost:3000")!]), apiKeyHeader: "X-Key", extraAllowedHeaders: ["Cache-Control"])
        let h2 = HTTPHeaders([("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "GET"),
                              ("Access-Control-Request-Headers", "x-key,cache-control")])
        guard case .allowed = custom.preflight(headers: h2) else { Issue.record("refused"); return }
    }

    @Test func sessionModePreflightAcceptsAnyWellFormedOrigin() {
        let policy = CORSPolicy(origins: .session)
        guard case .allowed = policy.preflight(origin: "https://anything.example", requestMethod: "GET", requestHeaders: []) else {
            Issue.record("refused"); return
        }
        #expect(policy.preflight(origin: "null", requestMethod: "GET", requestHeaders: []) == .refused(.originNotAllowed))
    }

    @Test func responseHeaders() {
        let ok = listed.responseHeaders(origin: "https://app.example.com", session: nil)
        #expect(ok == HTTPHeaders([("Access-Control-Allow-Origin", "https://app.example.com"),
                                   ("Access-Control-Allow-Credentials", "true"), ("Vary", "Origin")]))
        #expect(listed.responseHeaders(origin: "https://evil.example", session: nil) == HTTPHeaders([("Vary", "Origin")]))
        #expect(listed.responseHeaders(origin: nil, session: nil) == HTTPHeaders([("Vary", "Origin")]))

        let bySession = CORSPolicy(origins: .session)
        let session = SessionRecord(userID: "u", tenantID: "t", allowedOrigins: ["https://app.example.com"])
        #expect(bySession.responseHeaders(origin: "https://APP.example.com", session: session)["Access-Control-Allow-Origin"] == "https://APP.example.com")
        #expect(bySession.responseHeaders(origin: "https://other.example", session: session)["Access-Control-Allow-Origin"] == nil)
        #expect(bySession.responseHeaders(origin: "https://app.example.com", session: nil)["Access-Control-Allow-Origin"] == nil)
    }
}
