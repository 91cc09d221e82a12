import Foundation
import Testing

/// Header names with `_` on routes that authenticate: refused with 400 and a closed connection
/// unless `allow_underscore_headers` says otherwise; routes without auth still accept them
/// (with the gateway's own names dropped in any spelling).
@Suite struct UnderscoreHeaderTests {
    static let routes = """
        [[routes]]
        name = "strict"
        path_prefix = "/strict/"
        upstream = "up"

        [[routes]]
        name = "optional"
        path_prefix = "/opt/"
        upstream = "up"
        auth = "optional"

        [[routes]]
        name = "lenient"
        path_prefix = "/lenient/"
        upstream = "up"
        allow_underscore_headers = true

        [[routes]]
        name = "open"
        path_prefix = "/open/"
        upstream = "up"
        auth = "none"
        """

    @Test func refusedOnAuthenticatingRoutesBeforeAnyLookup() throws {
        let rig = try AuthRig(routes: Self.routes)
        let token = randomToken()
        rig.redis.putSession(token, user: "alice")
        for (path, headers) in [("/strict/x", ["Authorization: Bearer \(token)", "X_Tenant: other"]),
                                ("/strict/x", ["authorization: Bearer \(token)", "x-auth_user-id: evil"]),
                                ("/opt/x", ["X_Anything: 1"]),
                                ("/opt/x", ["Authorization: Bearer \(token)", "Accept: */*", "_: 1"])] {
            let c = try rig.gateway.client()
            c.send(AuthRig.requestText(target: path, headers: headers))
            let r = try c.readResponse()
            #expect(r.status == 400, "\(path) \(headers)")
            #expect(r.bodyText.contains("\"error\":\"underscore_in_header_name\""), "\(r.bodyText)")
            #expect(r.header("Connection") == "close")
            #expect(c.waitForClose().closed, "the connection is closed like the gateway's other 400s")
        }
        #expect(rig.upstream.requests.isEmpty, "nothing was forwarded")
        #expect(rig.hgetallCalls == 0, "refused before the session store is asked")
        let log = rig.gateway.accessLog(minLines: 4)
        #expect(log.map { $0["status"] as? Int } == [400, 400, 400, 400])
        #expect(log.map { $0["route"] as? String } == ["strict", "strict", "optional", "optional"])
        // The same requests without the underscore names pass.
        #expect(try rig.get("/strict/x", ["Authorization: Bearer \(token)", "X-Tenant: other"]).status == 200)
        #expect(try rig.get("/opt/x", ["X-Anything: 1"]).status == 200)
    }

    @Test func allowedRouteForwardsThemButNeverTheGatewaysNames() throws {
        let rig = try AuthRig(routes: Self.routes)
        let token = randomToken()
        rig.redis.putSession(token, user: "alice", tenant: "acme")
        let r = try rig.get("/lenient/x", ["Authorization: Bearer \(token)", "X_Tenant: other", "X_Auth_User_Id: evil",
                                           "X_Auth_Tenant_Id: evil", "X_Forwarded_For: 6.6.6.6", "X_Request_Id: forged"])
        #expect(r.status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.headers.filter { $0.0.contains("_") }.map { "\($0.0): \($0.1)" } == ["X_Tenant: other"])
        #expect(up.values("X-Auth-User-Id") == ["alice"])
        #expect(up.values("X-Auth-Tenant-Id") == ["acme"])
        #expect(up.values("X-Forwarded-For") == ["127.0.0.1"])
        #expect(up.values("X-Request-Id").count == 1 && up.header("X-Request-Id") != "forged")
    }

    @Test func routesWithoutAuthAcceptThemAndDropOwnedSpellings() throws {
        let rig = try AuthRig(routes: Self.routes)
        let r = try rig.get("/open/x", ["X_Tenant: other", "X_Auth_User_Id: evil", "X_Forwarded_Host: evil.test"])
        #expect(r.status == 200)
        let up = try rig.lastUpstreamRequest()
        #expect(up.headers.filter { $0.0.contains("_") }.map { "\($0.0): \($0.1)" } == ["X_Tenant: other"])
        #expect(up.values("X-Auth-User-Id") == [])
        #expect(up.values("X-Forwarded-Host") == ["gw.test"])
    }
}
