import Testing
@testable import StreamgateCore

/// RFC 3986 §6.2.2 and §5.2.4 canonicalisation of request paths, and the routing decisions
/// made on the result: no spelling may reach a route its canonical form does not match.
@Suite struct PathCanonicalizerTests {
    /// What `canonicalize` makes of a raw path: the canonical text, "400", and a trailing
    /// " !sep" when the path holds an encoded or raw separator (`%2F`, `%5C`, `\`).
    func outcome(_ raw: String) -> String {
        do {
            let r = try PathCanonicalizer.canonicalize(raw)
            return (r.canonical ?? raw) + (r.hasAmbiguousSeparator ? " !sep" : "")
        } catch {
            #expect(error.status == 400)
            return "400"
        }
    }

    static let table: [(raw: String, expected: String)] = [
        // Already canonical: unchanged.
        ("/", "/"), ("/a", "/a"), ("/a/", "/a/"), ("/a/b/c", "/a/b/c"), ("/.well-known/x", "/.well-known/x"),
        ("/a/.b", "/a/.b"), ("/a/b.", "/a/b."), ("/a/...", "/a/..."), ("/a/...;", "/a/...;"), ("/a/;/b", "/a/;/b"),
        ("/~user", "/~user"), ("/a:b@c", "/a:b@c"), ("/a;b=c", "/a;b=c"), ("/a+b", "/a+b"), ("/a..b", "/a..b"),
        // Repeated slashes merge.
        ("//", "/"), ("///a", "/a"), ("/a//b", "/a/b"), ("/a///b//", "/a/b/"), ("//a//", "/a/"),
        // Dot segments.
        ("/.", "/"), ("/./", "/"), ("/./a", "/a"), ("/a/.", "/a/"), ("/a/./b", "/a/b"), ("/a/./././b", "/a/b"),
        ("/a/..", "/"), ("/a/../", "/"), ("/a/../b", "/b"), ("/a/b/../c", "/a/c"), ("/a/b/../../c", "/c"),
        ("/a/b/c/../../../d", "/d"), ("/a/b/..//c", "/a/c"), ("/a//../b", "/b"), ("/a/./../b", "/b"),
        // Climbing above the root is an error, not `/`.
        ("/..", "400"), ("/../a", "400"), ("/a/../..", "400"), ("/a/../../b", "400"), ("/a/b/c/../../../../d", "400"),
        ("/%2e%2e", "400"), ("/%2E%2E/a", "400"), ("/./../a", "400"), ("//../a", "400"),
        // Encoded dots are dots.
        ("/%2e", "/"), ("/%2E", "/"), ("/a/%2e%2e", "/"), ("/a/%2E%2E/b", "/b"), ("/a/.%2e/b", "/b"), ("/a/%2e./b", "/b"),
        ("/a/%2E./b", "/b"), ("/a/b/%2e", "/a/b/"), ("/a/b/%2e/", "/a/b/"), ("/a/%2E%2e/", "/"),
        ("/public/../admin", "/admin"), ("/public/%2e%2e/admin", "/admin"), ("/public/%2E%2E/admin", "/admin"),
        ("/public/.%2E/admin", "/admin"), ("/public//../admin", "/admin"), ("/public/./../admin", "/admin"),
        // Unreserved characters decoded; everything else uppercase and kept.
        ("/%61dmin", "/admin"), ("/%41", "/A"), ("/a%7eb", "/a~b"), ("/a%7Eb", "/a~b"), ("/a%2db", "/a-b"), ("/a%5fb", "/a_b"),
        ("/a%30", "/a0"), ("/%7A%7a", "/zz"), ("/a%20b", "/a%20b"), ("/a%3fb", "/a%3Fb"), ("/%23", "/%23"), ("/a%25", "/a%25"),
        ("/a%252e", "/a%252e"), ("/a%252E%252E/b", "/a%252E%252E/b"), ("/a%e2%82%ac", "/a%E2%82%AC"), ("/a%3b", "/a%3B"),
        ("/a%40b", "/a%40b"), ("/a%2cb", "/a%2Cb"),
        // Encoded or raw separators: kept, flagged.
        ("/a%2fb", "/a%2Fb !sep"), ("/a%2Fb", "/a%2Fb !sep"), ("/a%5cb", "/a%5Cb !sep"), ("/a%5Cb", "/a%5Cb !sep"),
        ("/a\\b", "/a\\b !sep"), ("/a/%2e%2e%2fb", "/a/..%2Fb !sep"), ("/a/%2e%2e%5cb", "/a/..%5Cb !sep"),
        ("/..%2f", "/..%2F !sep"), ("/a/..\\b", "/a/..\\b !sep"),
        // Malformed or control: refused.
        ("/a%00", "400"), ("/a%0a", "400"), ("/a%0D", "400"), ("/a%1f", "400"), ("/a%7f", "400"), ("/a%7F/b", "400"),
        ("/a%", "400"), ("/a%2", "400"), ("/a%zz", "400"), ("/a%g0", "400"), ("/%%32e", "400"), ("/a/%2", "400"),
        // Tomcat-style dot segments with parameters.
        ("/a/..;/b", "400"), ("/a/.;x/b", "400"), ("/a/%2e%2e;/b", "400"), ("/..;", "400"),
    ]

    @Test func spellings() {
        #expect(Self.table.count >= 100)
        for (raw, expected) in Self.table {
            #expect(outcome(raw) == expected, "\(raw)")
        }
    }

    @Test func canonicalFormIsAFixedPoint() {
        for (raw, _) in Self.table {
            guard let r = try? PathCanonicalizer.canonicalize(raw), let c = r.canonical else { continue }
            let again = try? PathCanonicalizer.canonicalize(c)
            #expect(again?.canonical == nil, "\(raw) -> \(c) is not canonical")
        }
    }

    // MARK: - Routing on the canonical path

    static let routes: [Route] = {
        func pattern(_ t: String) -> RoutePath { .pattern(try! PathPattern.parse(t).get()) }
        let required = RouteAuth(policy: RouteAuthPolicy(mode: .required))
        return [
            Route(name: "public", path: .prefix("/public/"), upstream: "u"),
            Route(name: "admin", path: .prefix("/admin/"), upstream: "u", auth: required),
            Route(name: "tenant", path: pattern("/v1/tenants/{tenant}/events"), upstream: "u",
                  auth: RouteAuth(policy: RouteAuthPolicy(mode: .required, tenantParameter: "tenant"))),
            Route(name: "old", path: .prefix("/old/"), upstream: "u", rewrite: .replacePrefix("/public/legacy/")),
            Route(name: "exact", path: .exact("/status"), upstream: "u"),
            Route(name: "raw", path: .prefix("/raw/"), upstream: "u", rawPath: true),
        ]
    }()

    /// Parses a whole request for `target` and routes it: "route upstream-target", "404",
    /// "400" (refused by the parser), or "400 sep" (refused after routing: a separator on a
    /// route that does not take raw paths).
    func routed(_ target: String) -> String {
        var parser = RequestHeadParser(limits: HTTPLimits())
        let text = "GET \(target) HTTP/1.1\r\nHost: gw.test\r\n\r\n"
        let head: HTTPRequestHead
        do {
            let result = try Array(text.utf8).withUnsafeBytes { try parser.feed($0) }
            guard let h = result.head else { return "incomplete" }
            head = h
        } catch {
            return "400"
        }
        let router = Router(routes: Self.routes)
        switch router.match(method: "GET", host: head.authority, path: head.path) {
        case .matched(let route, let params):
            if head.hasAmbiguousSeparator && !route.rawPath { return "400 sep" }
            var up = route.upstreamPath(head.path, rawPath: head.rawPath)
            if let q = head.query { up += "?" + q }
            let p = params.map { " \($0.name)=\($0.value)" }.joined()
            return route.name + " " + up + p
        case .notFound: return "404"
        case .methodNotAllowed: return "405"
        }
    }

    @Test func spellingsRouteByTheirCanonicalForm() {
        let cases: [(String, String)] = [
            ("/public/x", "public /public/x"),
            ("/public/../admin/x", "admin /admin/x"),
            ("/public/%2e%2e/admin/x", "admin /admin/x"),
            ("/public/%2E%2E/admin/x", "admin /admin/x"),
            ("/public/.%2e/admin/x", "admin /admin/x"),
            ("/public//..//admin/x", "admin /admin/x"),
            ("/public/./../admin/x", "admin /admin/x"),
            ("/public/x/../../admin/x", "admin /admin/x"),
            ("/public/%2e%2e%2fadmin/x", "400 sep"),
            ("/public/..%2Fadmin/x", "400 sep"),
            ("/public/..%5Cadmin/x", "400 sep"),
            ("/public/..\\admin/x", "400 sep"),
            ("//admin/x", "admin /admin/x"),
            ("/%61dmin/x", "admin /admin/x"),
            ("/./admin/x", "admin /admin/x"),
            ("/public/../../admin/x", "400"),
            ("/public/..;/admin/x", "400"),
            ("/public/%00/x", "400"),
            ("/public/x?a=../admin", "public /public/x?a=../admin"),
            ("/public/x?p=%2e%2e", "public /public/x?p=%2e%2e"),
            // Absolute-form: the path part is canonicalised the same way.
            ("http://gw.test/public/../admin/x", "admin /admin/x"),
            ("http://gw.test/public/%2e%2e/admin/x", "admin /admin/x"),
            ("http://gw.test//admin/x", "admin /admin/x"),
            ("http://gw.test", "404"),
            // Patterns take the canonical segment; a tenant path cannot be reached through another route.
            ("/public/../v1/tenants/OTHER/events", "tenant /v1/tenants/OTHER/events tenant=OTHER"),
            ("/v1/tenants/%61cme/events", "tenant /v1/tenants/acme/events tenant=acme"),
            ("/v1/tenants/acme/../OTHER/events", "tenant /v1/tenants/OTHER/events tenant=OTHER"),
            ("/v1/tenants/acme/events/../../OTHER/events", "tenant /v1/tenants/OTHER/events tenant=OTHER"),
            ("/v1//tenants//acme//events", "tenant /v1/tenants/acme/events tenant=acme"),
            ("/v1/tenants/acme%2Fx/events", "400 sep"),
            // Rewrites apply to the canonical path.
            ("/old/a", "old /public/legacy/a"),
            ("/old/../admin/x", "admin /admin/x"),
            ("/old/%2e%2e/admin/x", "admin /admin/x"),
            ("/old//a//b", "old /public/legacy/a/b"),
            ("/old/a/../b", "old /public/legacy/b"),
            // Exact routes.
            ("/status", "exact /status"),
            ("/status/", "404"),
            ("//status", "exact /status"),
            ("/public/../status", "exact /status"),
            ("/%73tatus", "exact /status"),
            // raw_path routes match canonically but forward the bytes as received, separators included.
            ("/raw/a%2Fb", "raw /raw/a%2Fb"),
            ("/raw/a%2fb", "raw /raw/a%2fb"),
            ("/raw//a", "raw /raw//a"),
            ("/raw/../admin/x", "admin /admin/x"),
            ("/public/../raw/x", "raw /public/../raw/x"),
        ]
        for (target, expected) in cases {
            #expect(routed(target) == expected, "\(target)")
        }
    }

    @Test func routeConfigPathsMustBeCanonical() {
        for bad in ["/a//b", "/a/./b", "/a/../b", "/%61", "/a%2fb", "/a%2Fb", "/a%2e", "/a%zz", "/a/%2e%2e/b"] {
            guard case .failure = RoutePath.parsePath(bad) else { Issue.record("path \(bad) accepted"); continue }
            guard case .failure = RoutePath.parsePrefix(bad) else { Issue.record("prefix \(bad) accepted"); continue }
        }
        for good in ["/", "/a/", "/a/b", "/a%20b", "/v1/{tenant}/x"] {
            guard case .success = RoutePath.parsePath(good) else { Issue.record("path \(good) refused"); continue }
        }
    }
}
