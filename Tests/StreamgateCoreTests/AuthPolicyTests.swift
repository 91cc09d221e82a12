import Testing
@testable import StreamgateCore

@Suite("AuthPolicy")
struct AuthPolicyTests {
    let wall: Int64 = 1_700_000_000
    var session: SessionRecord {
        SessionRecord(userID: "u1", tenantID: "acme", expiresAt: wall + 60, kind: .session,
                      scopes: ["events:read", "events:write"], allowedOrigins: ["https://app.example.com"])
    }
    let route = RouteAuthPolicy(mode: .required, allowQueryToken: true, requiredScopes: ["events:read"],
                                tenantParameter: "tenant", corsOrigins: .list([WebOrigin("https://app.example.com")!]))

    func decide(_ route: RouteAuthPolicy, _ credential: PresentedCredential, origin: String? = nil,
                params: [String: String] = ["tenant": "acme"]) -> AuthDecision {
        AuthPolicy.decide(route: route, credential: credential, origin: origin, pathParameters: params, wallNow: wall)
    }

    func decide(_ credential: PresentedCredential, origin: String? = nil, params: [String: String] = ["tenant": "acme"]) -> AuthDecision {
        decide(route, credential, origin: origin, params: params)
    }

    func denial(_ d: AuthDecision) -> AuthDenial? { if case .deny(let x) = d { x } else { nil } }

    @Test func allowsValidSession() {
        #expect(decide(.session(session, source: .authorizationHeader), origin: "https://APP.example.com:443")
            == .allow(Identity(session: session, tokenSource: .authorizationHeader)))
        #expect(decide(.session(session, source: .query)) == .allow(Identity(session: session, tokenSource: .query)))
    }

    @Test func missingTokenChallengeHasNoErrorCode() throws {
        let d = try #require(denial(decide(.missing)))
        #expect(d.status == 401 && d.reason == .missingToken)
        #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\"")
        #expect(d.headers["Cache-Control"] == "no-store")
        // No error information in the challenge (RFC 6750 §3.1); the body says what is missing.
        #expect(d.body == #"{"error":"unauthorized","error_description":"no access token was presented"}"#)
    }

    @Test func unknownAndExpiredAreInvalidToken() throws {
        let expired = SessionRecord(userID: "u", tenantID: "acme", expiresAt: wall, scopes: ["events:read"])
        for (credential, reason) in [(PresentedCredential.unknown, DenialReason.unknownToken),
                                     (.session(expired, source: .authorizationHeader), .expiredToken)] {
            let d = try #require(denial(decide(credential)))
            #expect(d.status == 401 && d.reason == reason)
            let why = reason == .expiredToken ? "the access token has expired" : "the access token is unknown or revoked"
            #expect(d.errorDescription == why)
            #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error=\"invalid_token\", error_description=\"\(why)\"")
            #expect(d.body == #"{"error":"invalid_token","error_description":"\#(why)"}"#)
            #expect(d.headers["Content-Type"] == "application/json")
            #expect(d.httpError == HTTPError(status: 401, reason: "invalid_token", closeConnection: false))
        }
        // One second before expiry is still fine.
        let nearly = SessionRecord(userID: "u", tenantID: "acme", expiresAt: wall + 1, scopes: ["events:read"])
        #expect(denial(decide(.session(nearly, source: .authorizationHeader))) == nil)
    }

    @Test func apiKeyFromQueryIs401() throws {
        var key = session
        key.kind = .apiKey
        let d = try #require(denial(decide(.session(key, source: .query))))
        #expect(d.status == 401 && d.reason == .apiKeyInQuery)
        #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error=\"invalid_token\", "
            + "error_description=\"API keys are not accepted in the query string\"")
        #expect(denial(decide(.session(key, source: .apiKeyHeader))) == nil)
        #expect(denial(decide(.session(key, source: .authorizationHeader))) == nil)
    }

    @Test func malformedIs400() throws {
        let d = try #require(denial(decide(.malformed(.repeated))))
        #expect(d.status == 400 && d.reason == .malformedToken)
        #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error=\"invalid_request\", "
            + "error_description=\"more than one access token was presented\"")
        #expect(d.body == #"{"error":"invalid_request","error_description":"more than one access token was presented"}"#)
    }

    @Test func insufficientScopeListsRequiredScopes() throws {
        var s = session
        s.scopes = ["events:write"]
        var r = route
        r.requiredScopes = ["events:read", "admin"]
        let d = try #require(denial(decide(r, .session(s, source: .authorizationHeader))))
        #expect(d.status == 403 && d.reason == .insufficientScope)
        #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error=\"insufficient_scope\", "
            + "error_description=\"the token lacks a scope this route requires\", scope=\"events:read admin\"")
        #expect(d.body == #"{"error":"insufficient_scope","error_description":"the token lacks a scope this route requires"}"#)
    }

    /// A tenant or origin mismatch is not a scope problem: no `insufficient_scope`, and the
    /// client is told which check failed.
    @Test func tenantAndOriginMismatchesSayWhich() throws {
        let tenant = try #require(denial(decide(.session(session, source: .authorizationHeader), params: ["tenant": "other"])))
        let missingParam = try #require(denial(decide(.session(session, source: .authorizationHeader), params: [:])))
        let origin = try #require(denial(decide(.session(session, source: .authorizationHeader), origin: "https://evil.example")))
        let nullOrigin = try #require(denial(decide(.session(session, source: .authorizationHeader), origin: "null")))
        #expect(tenant.reason == .tenantMismatch && missingParam.reason == .tenantMismatch)
        #expect(origin.reason == .originNotAllowed && nullOrigin.reason == .originNotAllowed)
        for d in [tenant, missingParam] {
            #expect(d.status == 403 && d.errorCode == "forbidden")
            #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error_description=\"the token's tenant does not match the route\"")
            #expect(d.body == #"{"error":"forbidden","error_description":"the token's tenant does not match the route"}"#)
        }
        for d in [origin, nullOrigin] {
            #expect(d.status == 403 && d.errorCode == "forbidden")
            #expect(d.wwwAuthenticate == "Bearer realm=\"streamgate\", error_description=\"the request's Origin is not allowed on this route\"")
            #expect(d.body == #"{"error":"forbidden","error_description":"the request's Origin is not allowed on this route"}"#)
        }
        // Tenant compare is exact.
        #expect(denial(decide(.session(session, source: .authorizationHeader), params: ["tenant": "ACME"]))?.reason == .tenantMismatch)
    }

    /// Every sentence fits RFC 6750's `error_description` (%x20-21 / %x23-5B / %x5D-7E: no
    /// quote, no backslash, no control), so the challenge needs no escaping.
    @Test func descriptionsUseOnlyRFC6750Characters() {
        let allowed: (UInt8) -> Bool = { (0x20...0x21).contains($0) || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
        let reasons: [DenialReason] = [.malformedToken, .missingToken, .unknownToken, .expiredToken, .apiKeyInQuery,
                                       .insufficientScope, .tenantMismatch, .originNotAllowed, .storeUnavailable]
        let malformed: [MalformedTokenReason] = [.repeated, .conflicting, .empty, .tooLong, .invalidCharacters, .badAuthorizationSyntax]
        let texts = reasons.map { AuthPolicy.description(of: $0) } + malformed.map { AuthPolicy.description(of: $0) }
        for t in texts {
            #expect(!t.isEmpty && t.utf8.allSatisfy(allowed), "\(t)")
        }
        #expect(Set(texts).count == texts.count, "each reason has its own sentence")
    }

    @Test func sessionOrigins() {
        var r = route
        r.corsOrigins = .session
        #expect(denial(decide(r, .session(session, source: .query), origin: "https://app.example.com")) == nil)
        #expect(denial(decide(r, .session(session, source: .query), origin: "https://app.example.com:8443"))?.reason == .originNotAllowed)
        // No Origin (same-origin or non-browser): nothing to check.
        #expect(denial(decide(r, .session(session, source: .query))) == nil)
    }

    @Test func optionalAuth() {
        let optional = RouteAuthPolicy(mode: .optional)
        #expect(decide(optional, .missing) == .allow(nil))
        #expect(denial(decide(optional, .unknown))?.status == 401)
        #expect(denial(decide(optional, .malformed(.tooLong)))?.status == 400)
        #expect(decide(optional, .session(session, source: .apiKeyHeader)) == .allow(Identity(session: session, tokenSource: .apiKeyHeader)))
        // Scopes or a tenant binding cannot be met anonymously.
        #expect(denial(decide(RouteAuthPolicy(mode: .optional, requiredScopes: ["x"]), .missing))?.reason == .missingToken)
        #expect(denial(decide(RouteAuthPolicy(mode: .optional, tenantParameter: "tenant"), .missing))?.reason == .missingToken)
        // Anonymous with a session-based origin list has nothing to match against.
        #expect(denial(decide(RouteAuthPolicy(mode: .optional, corsOrigins: .session), .missing, origin: "https://a.com"))?.status == 403)
    }

    @Test func noAuthIgnoresCredentialsButNotOriginList() {
        let open = RouteAuthPolicy(mode: .none)
        #expect(decide(open, .malformed(.repeated)) == .allow(nil))
        #expect(decide(open, .unknown) == .allow(nil))
        #expect(decide(open, .session(session, source: .query)) == .allow(nil))
        let listed = RouteAuthPolicy(mode: .none, corsOrigins: .list([WebOrigin("https://a.com")!]))
        #expect(decide(listed, .missing, origin: "https://a.com") == .allow(nil))
        #expect(denial(decide(listed, .missing, origin: "https://b.com"))?.status == 403)
    }

    @Test func storeUnavailable() {
        let d = AuthPolicy.storeUnavailable(retryAfterSeconds: 2)
        #expect(d.status == 503 && d.headers["Retry-After"] == "2" && d.wwwAuthenticate == nil)
        #expect(d.body == #"{"error":"temporarily_unavailable","error_description":"the session store is unavailable; retry later"}"#)
        #expect(d.headers["Cache-Control"] == "no-store")
    }

    @Test func denialsNeverEchoTheToken() {
        let token = "secret-token-value"
        let credentials: [PresentedCredential] = [.missing, .unknown, .malformed(.invalidCharacters), .malformed(.tooLong)]
        for c in credentials {
            let d = denial(decide(c))!
            #expect(!d.body.contains(token))
            #expect(!d.headers.contains { $0.value.contains(token) })
        }
    }

    @Test func realmIsQuoted() {
        #expect(AuthPolicy.challenge(realm: "a\"b\\c\n") == "Bearer realm=\"a\\\"b\\\\c\"")
    }

    @Test func queryTokenIdentityRequiresNoStore() {
        #expect(Identity(session: session, tokenSource: .query).requiresNoStore)
        #expect(!Identity(session: session, tokenSource: .authorizationHeader).requiresNoStore)
    }
}
