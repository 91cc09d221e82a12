import Testing
@testable import StreamgateCore

@Suite struct RouterTests {
    func route(_ name: String, _ path: RoutePath, methods: [String]? = nil, host: String? = nil, rewrite: PathRewrite = .none) -> Route {
        Route(name: name, host: host.flatMap(RouteHost.init(parsing:)), path: path, methods: methods, upstream: "u", rewrite: rewrite)
    }

    func pattern(_ text: String) -> RoutePath { .pattern(try! PathPattern.parse(text).get()) }

    /// The matched route's name and params, "404", or "405 A,B".
    func outcome(_ router: Router, _ path: String, host: String = "example.com") -> String {
        outcome(router, "GET", path, host: host)
    }

    func outcome(_ router: Router, _ method: String, _ path: String, host: String = "example.com") -> String {
        switch router.match(method: method, host: host, path: path) {
        case .matched(let route, let params):
            let p = params.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            return route.name + (p.isEmpty ? "" : " \(p)")
        case .notFound: return "404"
        case .methodNotAllowed(let allow): return "405 " + allow.joined(separator: ",")
        }
    }

    @Test func pathPrecedence() {
        let router = Router(routes: [
            route("root-prefix", .prefix("/")),
            route("api-prefix", .prefix("/api/")),
            route("api-v1-prefix", .prefix("/api/v1/")),
            route("user-any", pattern("/api/v1/{kind}/{id}")),
            route("user", pattern("/api/v1/users/{id}")),
            route("user-me", .exact("/api/v1/users/me")),
            route("deep", pattern("/api/v1/users/{id}/{more}")),
        ])
        #expect(outcome(router, "/api/v1/users/me") == "user-me")
        #expect(outcome(router, "/api/v1/users/42") == "user id=42")
        #expect(outcome(router, "/api/v1/teams/7") == "user-any kind=teams,id=7")
        #expect(outcome(router, "/api/v1/users/42/posts") == "deep id=42,more=posts")
        #expect(outcome(router, "/api/v1/other") == "api-v1-prefix")
        #expect(outcome(router, "/api/v2") == "api-prefix")
        #expect(outcome(router, "/api") == "root-prefix")
        #expect(outcome(router, "/") == "root-prefix")
    }

    @Test func patternTieBreakers() {
        // More literal segments beat fewer; with equal literals, more segments win; then file order.
        let router = Router(routes: [
            route("two-params", pattern("/{a}/{b}")),
            route("one-literal", pattern("/x/{b}")),
            route("literal-last", pattern("/{a}/y")),
        ])
        #expect(outcome(router, "/x/y") == "one-literal b=y")
        #expect(outcome(router, "/z/y") == "literal-last a=z")
        #expect(outcome(router, "/z/w") == "two-params a=z,b=w")
    }

    @Test func prefixesMatchAtSegmentBoundaries() {
        let router = Router(routes: [route("admin", .prefix("/admin")), route("slash", .prefix("/files/"))])
        #expect(outcome(router, "/admin") == "admin")
        #expect(outcome(router, "/admin/") == "admin")
        #expect(outcome(router, "/admin/users") == "admin")
        #expect(outcome(router, "/administrator") == "404")
        #expect(outcome(router, "/files/a.txt") == "slash")
        #expect(outcome(router, "/files/") == "slash")
        #expect(outcome(router, "/files") == "404")
    }

    @Test func parametersTakeOneNonEmptySegmentRaw() {
        let router = Router(routes: [route("t", pattern("/t/{tenant}/events"))])
        #expect(outcome(router, "/t/acme/events") == "t tenant=acme")
        #expect(outcome(router, "/t/a%2Fb/events") == "t tenant=a%2Fb")
        #expect(outcome(router, "/t/%E2%9C%93/events") == "t tenant=%E2%9C%93")
        #expect(outcome(router, "/t//events") == "404")
        #expect(outcome(router, "/t/a/b/events") == "404")
        #expect(outcome(router, "/t/acme/events/") == "404")
        #expect(outcome(router, "/t/acme") == "404")
        #expect(outcome(router, "t/acme/events") == "404")
    }

    @Test func routingIsOnTheRawPath() {
        let router = Router(routes: [route("admin", .exact("/admin")), route("public", .prefix("/public/"))])
        #expect(outcome(router, "/public/../admin") == "public")
        #expect(outcome(router, "//admin") == "404")
        #expect(outcome(router, "/%61dmin") == "404")
        #expect(outcome(router, "/admin/") == "404")
        #expect(outcome(router, "/ADMIN") == "404")
    }

    @Test func methodNotAllowedListsTheUnionOfAllowedMethods() {
        let router = Router(routes: [
            route("read", .exact("/items"), methods: ["GET"]),
            route("write", .exact("/items"), methods: ["POST", "PUT"]),
            route("other", .exact("/other"), methods: ["DELETE"]),
        ])
        #expect(outcome(router, "GET", "/items") == "read")
        #expect(outcome(router, "HEAD", "/items") == "read")
        #expect(outcome(router, "PUT", "/items") == "write")
        #expect(outcome(router, "DELETE", "/items") == "405 GET,HEAD,POST,PUT")
        #expect(outcome(router, "GET", "/other") == "405 DELETE")
        #expect(outcome(router, "GET", "/missing") == "404")
    }

    @Test func aLessSpecificRouteAllowingTheMethodWinsOver405() {
        let router = Router(routes: [
            route("post-only", .exact("/items"), methods: ["POST"]),
            route("fallback", .prefix("/")),
        ])
        #expect(outcome(router, "GET", "/items") == "fallback")
        #expect(outcome(router, "POST", "/items") == "post-only")
    }

    @Test func methodsAreCaseSensitive() {
        let router = Router(routes: [route("r", .exact("/r"), methods: ["GET"])])
        #expect(outcome(router, "get", "/r") == "405 GET,HEAD")
    }

    @Test func hostSpecificRoutesWin() {
        let router = Router(routes: [
            route("any", .exact("/x")),
            route("wild", .prefix("/"), host: "*.example.com"),
            route("wild-deeper", .prefix("/"), host: "*.eu.example.com"),
            route("exact", .prefix("/"), host: "api.example.com"),
        ])
        #expect(outcome(router, "/x", host: "api.example.com") == "exact")
        #expect(outcome(router, "/x", host: "API.Example.COM:8443") == "exact")
        #expect(outcome(router, "/x", host: "api.example.com.") == "exact")
        #expect(outcome(router, "/x", host: "www.example.com") == "wild")
        #expect(outcome(router, "/x", host: "a.b.example.com") == "wild")
        #expect(outcome(router, "/x", host: "x.eu.example.com") == "wild-deeper")
        #expect(outcome(router, "/x", host: "example.com") == "any")
        #expect(outcome(router, "/x", host: "badexample.com") == "any")
        #expect(outcome(router, "/x", host: "other.org") == "any")
        #expect(outcome(router, "/y", host: "other.org") == "404")
        #expect(outcome(router, "/x", host: "[::1]:8080") == "any")
    }

    @Test func hostMismatchIsNotFoundNotMethodNotAllowed() {
        let router = Router(routes: [route("api", .exact("/x"), methods: ["POST"], host: "api.example.com")])
        #expect(outcome(router, "GET", "/x", host: "api.example.com") == "405 POST")
        #expect(outcome(router, "GET", "/x", host: "www.example.com") == "404")
    }

    @Test func fileOrderBreaksFullTies() {
        let router = Router(routes: [route("first", .exact("/x"), methods: ["GET"]), route("second", .exact("/x"))])
        #expect(outcome(router, "/x") == "first")
        #expect(outcome(router, "POST", "/x") == "second")
    }

    @Test func upstreamPathRewrites() {
        let router = Router(routes: [
            route("strip", .prefix("/api/"), rewrite: .stripPrefix),
            route("strip-noslash", .prefix("/svc"), rewrite: .stripPrefix),
            route("rewrite", .prefix("/old/"), rewrite: .replacePrefix("/new/")),
            route("rewrite-noslash", .prefix("/v1"), rewrite: .replacePrefix("/internal/v1")),
            route("keep", .prefix("/keep/")),
            route("exact", .exact("/plain")),
        ])
        #expect(router.routes[0].upstreamPath("/api/users/7") == "/users/7")
        #expect(router.routes[0].upstreamPath("/api/") == "/")
        #expect(router.routes[0].upstreamPath("/api//x") == "//x")
        #expect(router.routes[1].upstreamPath("/svc") == "/")
        #expect(router.routes[1].upstreamPath("/svc/a") == "/a")
        #expect(router.routes[2].upstreamPath("/old/a/b") == "/new/a/b")
        #expect(router.routes[2].upstreamPath("/old/") == "/new/")
        #expect(router.routes[3].upstreamPath("/v1/x") == "/internal/v1/x")
        #expect(router.routes[3].upstreamPath("/v1") == "/internal/v1")
        #expect(router.routes[4].upstreamPath("/keep/a%20b") == "/keep/a%20b")
        #expect(router.routes[5].upstreamPath("/plain") == "/plain")
    }

    @Test func matchIgnoringMethodServesPreflight() throws {
        let router = Router(routes: [route("r", pattern("/r/{id}"), methods: ["POST"])])
        let hit = try #require(router.matchIgnoringMethod(host: "h", path: "/r/5"))
        #expect(hit.route === router.routes[0])
        #expect(hit.params.map(\.value) == ["5"])
        #expect(router.matchIgnoringMethod(host: "h", path: "/q") == nil)
    }

    @Test func emptyTableIsNotFound() {
        #expect(outcome(Router(routes: []), "/") == "404")
    }

    @Test func routeHostParsing() {
        #expect(RouteHost(parsing: "API.example.com") == .exact("api.example.com"))
        #expect(RouteHost(parsing: "*.example.com") == .wildcard(suffix: ".example.com"))
        #expect(RouteHost(parsing: "10.0.0.1") == .exact("10.0.0.1"))
        for bad in ["*", "*.", "a.*.com", "ex ample.com", "example.com:80", "example.com.", "", "*example.com"] {
            #expect(RouteHost(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func pathPatternParsing() throws {
        let p = try PathPattern.parse("/v1/{tenant}/events/{id}").get()
        #expect(p.parameterNames == ["tenant", "id"])
        #expect(p.shape == "/v1/{}/events/{}")
        #expect(p.description == "/v1/{tenant}/events/{id}")
        #expect(try RoutePath.parsePath("/plain").get() == .exact("/plain"))
        for bad in ["/a/{}", "/a/{1x}", "/a/{x", "/a/x}", "/a/{x}{y}", "/a b", "/a?x=1", "/a#f", "relative"] {
            #expect(throws: RouteSyntaxError.self, "\(bad)") { try RoutePath.parsePath(bad).get() }
        }
    }
}

@Suite struct RouteHostPortTests {
    @Test func stripPortKeepsTheHostName() {
        #expect(RouteHost.stripPort("api.example:8080") == "api.example")
        #expect(RouteHost.stripPort("api.example") == "api.example")
        #expect(RouteHost.stripPort("api.example.") == "api.example")
        #expect(RouteHost.stripPort("h.:80") == "h")
        #expect(RouteHost.stripPort("[::1]:443") == "[::1]")
        #expect(RouteHost.stripPort("[::1]") == "[::1]")
        #expect(RouteHost.stripPort("[::1].") == "[::1]")
        // Unterminated bracket: nothing is taken for a port.
        #expect(RouteHost.stripPort("[::1") == "[::1")
        #expect(RouteHost.stripPort(":80") == "")
        #expect(RouteHost.stripPort("") == "")
        #expect(RouteHost.stripPort(".") == "")
    }
}

@Suite struct ForwardedElementTests {
    private func hop(_ ip: String, _ host: String) -> ForwardingHeaders.ClientHop {
        .init(clientIP: ip, scheme: "http", host: host, requestID: "r", trustForwarded: false)
    }

    @Test func ipv6AndHostsWithPortsAreQuoted() {
        #expect(ForwardingHeaders.forwardedElement(hop("10.0.0.7", "api.example")) == "for=10.0.0.7;host=api.example;proto=http")
        #expect(ForwardingHeaders.forwardedElement(hop("::1", "api.example:8443")) == "for=\"[::1]\";host=\"api.example:8443\";proto=http")
    }
}
