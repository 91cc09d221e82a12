import Foundation
import Testing
import StreamgateCore

/// What the upstream learns about the caller: injected identity headers, never the client's
/// copies of them, never the credentials (unless asked), and a verifiable signature.
@Suite struct AuthIdentityTests {
    /// The spoofs include underscore spellings, which authenticating routes refuse outright by
    /// default (UnderscoreHeaderTests). These tests let them in, to check that they are
    /// stripped when an operator allows underscore names.
    static let allowUnderscores = "[auth]\nallow_underscore_headers = true\n"

    static let spoofs = [
        "X-Auth-User-Id: evil1",
        "x-auth-user-id: evil2",
        "X-AUTH-USER-ID: evil3",
        "X_Auth_User_Id: evil4",
        "x-auth_user-id: evil5",
        "X-Auth-Tenant-Id: evil-tenant",
        "X_AUTH_TENANT_ID: evil-tenant2",
        "X-Auth-Scopes: admin",
        "x_auth_scopes: admin2",
        "X-Auth-Expires-At: 99999999999",
        "X-Auth-Signature: v1=00",
        "X_Auth_Signature: v1=01",
        "Connection: keep-alive, X-Auth-User-Id, X-Auth-Tenant-Id, X-Auth-Scopes",
    ]

    /// No header name, in any spelling the stripping rule covers, carries a client value.
    static func spoofedValues(_ r: RecordingUpstream.Request) -> [String] {
        r.headers.filter { $0.1.hasPrefix("evil") || $0.1.hasPrefix("admin") || $0.1 == "99999999999" || $0.1.hasPrefix("v1=0") }
            .map { "\($0.0): \($0.1)" }
    }

    @Test func identityIsInjectedAndEverySpoofStripped() throws {
        let rig = try AuthRig(sections: Self.allowUnderscores)
        let token = randomToken()
        rig.redis.putSession(token, user: "alice", tenant: "acme", expiresAt: "4102444800", scopes: "events:read profile")
        let r = try rig.get("/api/x", ["Authorization: Bearer \(token)"] + Self.spoofs)
        #expect(r.status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(Self.spoofedValues(up) == [])
        #expect(up.values("X-Auth-User-Id") == ["alice"], "exactly one, the gateway's, despite Connection: X-Auth-User-Id")
        #expect(up.values("X-Auth-Tenant-Id") == ["acme"])
        #expect(up.values("X-Auth-Scopes") == ["events:read profile"])
        #expect(up.values("X-Auth-Expires-At") == ["4102444800"])
        #expect(up.values("X-Auth-Signature") == [], "no signing secret: no signature")
        let underscored = up.headers.filter { $0.0.contains("_") }
        #expect(underscored.isEmpty, "underscore variants are gone: \(underscored)")
    }

    @Test func spoofsAreStrippedOnAnonymousRequestsToo() throws {
        let rig = try AuthRig(sections: Self.allowUnderscores)
        for path in ["/open/x", "/opt/x"] {
            let r = try rig.get(path, Self.spoofs)
            #expect(r.status == 200, "\(path)")
            let up = try rig.lastUpstreamRequest()
            #expect(Self.spoofedValues(up) == [], "\(path)")
            #expect(up.values("X-Auth-User-Id") == [])
        }
        #expect(rig.hgetallCalls == 0)
    }

    @Test func optionalRouteAuthenticatesWhenATokenIsSent() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "opt-user")
        #expect(try rig.get("/opt/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try rig.lastUpstreamRequest().values("X-Auth-User-Id") == ["opt-user"])
        #expect(try rig.get("/opt/x", ["Authorization: Bearer \(randomToken("unknown"))"]).status == 401,
                "a token, if sent, must be valid")
    }

    @Test func authorizationForwardedOnlyWhenRouteSaysSo() throws {
        let rig = try AuthRig()
        let token = randomToken()
        rig.redis.putSession(token, user: "fw")
        #expect(try rig.get("/api/x", ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try rig.lastUpstreamRequest().header("authorization") == nil)
        #expect(try rig.get("/fwd/x", ["Authorization: Bearer \(token)"]).status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.values("Authorization") == ["Bearer \(token)"])
        #expect(up.values("X-Auth-User-Id") == ["fw"])
        // The query token is never forwarded, even there.
        let q = try rig.get("/fwd/x?access_token=\(token)&z=1", ["X-Api-Key: \(token)"])
        #expect(q.status == 200)
        #expect(try rig.lastUpstreamRequest().target == "/fwd/x?z=1")
    }

    @Test func testCryptoMatchesKnownVectors() {
        #expect(TestCrypto.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TestCrypto.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 4231 test case 2.
        #expect(TestCrypto.hex(TestCrypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // RFC 4231 test case 6 (key longer than a block).
        #expect(TestCrypto.hex(TestCrypto.hmacSHA256(key: [UInt8](repeating: 0xaa, count: 131),
                                                     message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func signedAssertionVerifiesWithTheSecret() throws {
        let secret = "0123456789abcdef0123456789abcdef-test"
        let rig = try AuthRig(sections: "[identity]\nsigning_secret = \"\(secret)\"\n" + Self.allowUnderscores)
        let token = randomToken()
        rig.redis.putSession(token, user: "alice", tenant: "acme", expiresAt: "4102444800", scopes: "events:read profile")
        let plain = randomToken("noexp")
        rig.redis.putSession(plain, user: "bob", tenant: "t2")
        for (t, expires) in [(token, "4102444800"), (plain, "")] {
            let r = try rig.get("/api/x", ["Authorization: Bearer \(t)", "X-Request-Id: req-\(expires.isEmpty ? "b" : "a")"] + Self.spoofs)
            #expect(r.status == 200)
            let up = try rig.lastUpstreamRequest()
            let requestID = try #require(up.header("X-Request-Id"))
            let user = try #require(up.header("X-Auth-User-Id"))
            let tenant = try #require(up.header("X-Auth-Tenant-Id"))
            let scopes = try #require(up.header("X-Auth-Scopes"))
            #expect(up.header("X-Auth-Expires-At") == (expires.isEmpty ? nil : expires))
            let signatures = up.values("X-Auth-Signature")
            #expect(signatures.count == 1, "exactly one signature, the gateway's")
            let input = ["v1", user, tenant, scopes, expires, requestID].joined(separator: "\n")
            let expected = "v1=" + TestCrypto.hex(TestCrypto.hmacSHA256(key: Array(secret.utf8), message: Array(input.utf8)))
            #expect(signatures.first == expected)
            // The documented helper builds the same input.
            let documented = IdentityHeaders.signingInput(user: user, tenant: tenant, scopes: scopes,
                                                          expiresAt: Int64(expires), requestID: requestID)
            #expect(documented == Array(input.utf8))
            // A different secret does not verify.
            let forged = "v1=" + TestCrypto.hex(TestCrypto.hmacSHA256(key: Array("another-secret-of-32-bytes-length!!".utf8), message: Array(input.utf8)))
            #expect(signatures.first != forged)
        }
        #expect(!rig.gateway.accessLogText.contains(secret))
        #expect(!rig.gateway.errorLogText.contains(secret))
    }
}
