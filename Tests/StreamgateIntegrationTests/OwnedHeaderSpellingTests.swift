import Foundation
import Testing
@testable import Streamgate

/// Client spellings of the headers the gateway sets (underscores, mixed case, duplicates,
/// `Connection` tricks) on a route without auth, where underscore names are accepted: the
/// upstream must receive exactly the gateway's values, each once, and the client's other fields.
@Suite struct OwnedHeaderSpellingTests {
    static func fields(_ head: String) -> [String] { ForwardingTrustTests.fields(head) }

    @Test func everySpellingOfAnOwnedNameIsDroppedBeforeTheGatewayAddsItsOwn() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: gw.test\r\n"
            + "X-Request-Id: rid-9\r\nX_Request_Id: forged-1\r\nx_request_id: forged-2\r\nX-REQUEST_ID: forged-3\r\n"
            + "X_Forwarded_For: 6.6.6.1\r\nx_forwarded_for: 6.6.6.2\r\nX-FORWARDED-FOR: 6.6.6.3\r\nX-Forwarded-For: 6.6.6.4\r\n"
            + "X_Forwarded_Proto: https\r\nX-Forwarded-Proto: https\r\nX_Forwarded_Host: evil.test\r\nx-forwarded-host: evil.test\r\n"
            + "Forwarded: for=6.6.6.5\r\nFORWARDED: for=6.6.6.6\r\n"
            + "X_Auth_User_Id: evil\r\nx-auth-user-id: evil\r\nX_AUTH_SCOPES: admin\r\nX_Auth_Signature: v1=00\r\n"
            + "X_Custom_Flag: kept\r\nX-Forwarded-Port: kept\r\nAccept: */*\r\n\r\n")
        let u = try up.accept()
        #expect(Self.fields(try u.readHead()) == [
            "X_Custom_Flag: kept",
            "X-Forwarded-Port: kept",
            "Accept: */*",
            "X-Forwarded-For: 127.0.0.1",
            "X-Forwarded-Proto: http",
            "X-Forwarded-Host: gw.test",
            "Forwarded: for=127.0.0.1;host=gw.test;proto=http",
            "X-Request-Id: rid-9",
            "Host: gw.test",
        ])
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.headerValues("X-Request-Id") == ["rid-9"], "the dashed, valid client id is the request's id")
    }

    /// Only the dashed `X-Request-Id` can name the request; an underscore spelling is dropped
    /// and a fresh id is made, the same one the client and the upstream see.
    @Test func underscoreRequestIdIsNeverAdopted() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: gw.test\r\nX_Request_Id: forged-1\r\n\r\n")
        let u = try up.accept()
        let ids = Self.fields(try u.readHead()).filter { $0.lowercased().hasPrefix("x-request-id:") || $0.lowercased().hasPrefix("x_request_id:") }
        #expect(ids.count == 1)
        #expect(ids.first.map { !$0.contains("forged") } == true, "\(ids)")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.header("X-Request-Id").map { "X-Request-Id: " + $0 } == ids.first)
    }

    /// Listing the gateway's names in `Connection` deletes the client's copies (they are
    /// hop-by-hop now), never the gateway's, which are added afterwards.
    @Test func connectionCannotDeleteTheGatewaysForwardingFields() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), listenerExtra: "trust_forwarded = [\"127.0.0.1\"]")
        let c = try gw.client()
        c.send("GET /a HTTP/1.1\r\nHost: gw.test\r\n"
            + "Connection: keep-alive, X-Forwarded-For, Forwarded, X-Request-Id, X-Forwarded-Proto, X_Forwarded_Host\r\n"
            + "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Request-Id: rid-3\r\nX-Forwarded-Proto: https\r\n"
            + "X_Forwarded_Host: evil.test\r\n\r\n")
        let u = try up.accept()
        #expect(Self.fields(try u.readHead()) == [
            "X-Forwarded-For: 127.0.0.1",
            "X-Forwarded-Proto: http",
            "X-Forwarded-Host: gw.test",
            "Forwarded: for=127.0.0.1;host=gw.test;proto=http",
            "X-Request-Id: rid-3",
            "Host: gw.test",
        ], "even from a trusted peer, a chain it declared hop-by-hop is not extended")
        u.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
    }
}
