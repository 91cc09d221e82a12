import Foundation
import StreamgateCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Path spellings against a real nginx upstream, which resolves every path itself (decodes
/// `%XX`, `%2F` included, merges `//`, removes dot segments). A gateway that routes one
/// spelling and lets the upstream resolve another is an authorization bypass (Envoy
/// CVE-2019-9901, Istio CVE-2021-31920, Traefik CVE-2025-32431); the unit tests check the
/// canonicaliser and the router on their own, this checks what nginx finally serves.
///
/// nginx answers `loc=NAME uri=$uri req=$request_uri`, so each response tells which location
/// served it, the path nginx resolved, and the exact target the gateway forwarded. The oracle:
/// (a) no 200 from `loc=admin` (no credential here holds the `admin` scope);
/// (b) without a token, a 200 comes from `loc=public`, or from `loc=raw` for a spelling whose
///     canonical form is under `/raw/`; on routes other than `raw` nginx received exactly the
///     canonical path (after the route's rewrite), never another spelling;
/// (c) with tenant `acme`'s token, a 200 from `loc=tenants` only for `/v1/tenants/acme/events`;
/// (d) the gateway answers 200, 400, 401, 403 or 404 only, and every spelling gets a complete
///     response.
/// Besides the oracle, each status and forwarded target is compared with a small model of the
/// route table built on `PathCanonicalizer` (the routes are written out again here, not taken
/// from the gateway's router).
///
/// Outcome distribution when written (446 spellings, each without and with the token; the test
/// prints it on every run):
///
///     response                        no token   acme token
///     400 from the gateway                 147          147
///     401 from the gateway                 147            -
///     403 from the gateway                   -          141
///     404 from the gateway                  58           58
///     200 nginx loc=public                  45           45
///     200 nginx loc=raw                     29           29
///     200 nginx loc=tenants                  2            8   (2 are raw_path escapes, 6 /v1/tenants/acme/events)
///     200 nginx loc=admin                   18           18   (all raw_path escapes, below)
///
/// `raw_path` routes: nginx decodes `%2F` into a separator before it removes dot segments, so
/// the gateway refuses (400) a raw target whose separators, read as `/`, would leave the route
/// (`/raw/..%2Fadmin/x`); this suite found that hole.
@Suite struct PathCanonicalNginxTests {
    // MARK: - The route table and its model

    static func config(nginxPort: UInt16, redisPort: Int) -> String {
        """
        [gateway]
        workers = 1
        drain_timeout = "1s"

        [redis]
        url = "redis://127.0.0.1:\(redisPort)/0"
        timeout = "1s"

        [upstreams.nginx]
        targets = ["127.0.0.1:\(nginxPort)"]
        connect_timeout = "1s"
        read_timeout = "3s"

        [[routes]]
        name = "public"
        path_prefix = "/public/"
        upstream = "nginx"
        auth = "none"

        [[routes]]
        name = "admin"
        path_prefix = "/admin/"
        upstream = "nginx"
        auth = "required"
        scopes = ["admin"]

        [[routes]]
        name = "tenant"
        path = "/v1/tenants/{tenant}/events"
        upstream = "nginx"
        auth = "required"
        tenant_param = "tenant"
        scopes = ["events:read"]

        [[routes]]
        name = "old"
        path_prefix = "/old/"
        upstream = "nginx"
        rewrite_prefix = "/public/legacy/"
        auth = "none"

        [[routes]]
        name = "raw"
        path_prefix = "/raw/"
        upstream = "nginx"
        raw_path = true
        auth = "none"
        """
    }

    enum Route: Equatable {
        case publicRoute, admin, tenant(String), old, raw
    }

    /// What the gateway should do with one target.
    struct Expected {
        /// Status from the gateway itself, or (when the request is forwarded) 200; for `raw`
        /// nginx may refuse the raw target itself (400).
        var statuses: Set<Int>
        var route: Route?
        /// The target nginx must receive (path after rewrite, plus the query).
        var forwarded: String?
    }

    /// The path and query of an origin-form or absolute-form target, as the gateway splits it.
    static func split(_ target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        if !rest.hasPrefix("/"), let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest[(rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex)...]
        }
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0].isEmpty ? "/" : String(parts[0])
        return (path, parts.count == 2 ? String(parts[1]) : nil)
    }

    /// The route table, written out again: exact patterns before prefixes.
    static func route(for canonical: String) -> Route? {
        let segments = canonical.split(separator: "/", omittingEmptySubsequences: false)
        if segments.count == 5, segments[0].isEmpty, segments[1] == "v1", segments[2] == "tenants", !segments[3].isEmpty,
           segments[4] == "events" {
            return .tenant(String(segments[3]))
        }
        if canonical.hasPrefix("/public/") { return .publicRoute }
        if canonical.hasPrefix("/admin/") { return .admin }
        if canonical.hasPrefix("/old/") { return .old }
        if canonical.hasPrefix("/raw/") { return .raw }
        return nil
    }

    static func expected(_ target: String, withToken: Bool) -> Expected {
        let (rawPath, query) = split(target)
        guard let result = try? PathCanonicalizer.canonicalize(rawPath) else { return Expected(statuses: [400]) }
        let canonical = result.canonical ?? rawPath
        guard let route = route(for: canonical) else { return Expected(statuses: [404]) }
        if result.hasAmbiguousSeparator && route != .raw { return Expected(statuses: [400], route: route) }
        let q = query.map { "?" + $0 } ?? ""
        switch route {
        case .admin:
            return Expected(statuses: [withToken ? 403 : 401], route: route)
        case .tenant(let t):
            guard withToken else { return Expected(statuses: [401], route: route) }
            return t == "acme" ? Expected(statuses: [200], route: route, forwarded: canonical + q) : Expected(statuses: [403], route: route)
        case .publicRoute:
            return Expected(statuses: [200], route: route, forwarded: canonical + q)
        case .old:
            return Expected(statuses: [200], route: route, forwarded: "/public/legacy/" + canonical.dropFirst("/old/".count) + q)
        case .raw:
            // Separators read as `/` (as nginx does) must keep the target under /raw/.
            if result.hasAmbiguousSeparator, !(separatorsAsSlashes(rawPath)?.hasPrefix("/raw/") ?? false) {
                return Expected(statuses: [400], route: route)
            }
            return Expected(statuses: [200, 400], route: route, forwarded: rawPath + q)
        }
    }

    /// The test's own reading of separators as `/`: replace them, then canonicalise.
    static func separatorsAsSlashes(_ rawPath: String) -> String? {
        var t = rawPath
        for sep in ["%2F", "%2f", "%5C", "%5c", "\\"] { t = t.replacingOccurrences(of: sep, with: "/") }
        guard let r = try? PathCanonicalizer.canonicalize(t) else { return nil }
        return r.canonical ?? t
    }

    // MARK: - Spellings

    /// Spellings of `..`, each as one whole segment.
    static let climbs = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", ".%2E", "%2E.", "%2e%2E", "..;x", ".;x"]
    /// Separators after a climb: plain, merged, through `.`, and the ambiguous ones.
    static let separators = ["/", "//", "/./", "%2F", "%2f", "%5C", "\\"]
    /// Where a climb starts from.
    static let entries = ["/public/", "/old/", "/raw/", "/", "/public/x/", "/v1/tenants/acme/events/"]
    /// What a climb tries to reach.
    static let goals = ["admin/x", "v1/tenants/other/events"]

    static func spellings() -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        func add(_ s: String) { if seen.insert(s).inserted { out.append(s) } }
        // Each entry, climb and goal with a plain separator.
        for e in entries { for c in climbs { for g in goals { add(e + c + "/" + g) } } }
        // Each entry, separator and goal with a plain `..`.
        for e in entries { for s in separators.dropFirst() { for g in goals { add(e + ".." + s + g) } } }
        // Every climb with every separator from /public/ and from /raw/.
        for e in ["/public/", "/raw/"] { for c in climbs { for s in separators { add(e + c + s + "admin/x") } } }
        // Two climbs: from one level down (reaches admin), and from the prefix (above the root).
        for c in climbs {
            add("/public/x/" + c + "/" + c + "/admin/x")
            add("/public/" + c + "/" + c + "/admin/x")
            add("/old/a/" + c + "/" + c + "/v1/tenants/other/events")
        }
        // Percent-encoded unreserved letters, digits and case.
        for s in [
            "/%61dmin/x", "/%41dmin/x", "/adm%69n/x", "/adm%49n/x", "/%61%64%6d%69%6e/x", "/%61%64%6D%69%6E/x",
            "/%70ublic/x", "/publi%63/../admin/x", "/%70ublic/%2e%2e/%61dmin/x", "/v1/tenants/%61cme/events",
            "/v1/tenants/oth%65r/events", "/v1/%74enants/other/events", "/%76%31/tenants/acme/events",
            "/v1/tenants/ACME/events", "/v1/tenants/acme%2Fevents", "/v1/tenants/acme/events%2F",
            "/%6fld/../admin/x", "/r%61w/x", "/admin%2Fx", "/admin%2fx", "/public%2F..%2Fadmin/x",
        ] { add(s) }
        // Trailing dots and dots that are not dot segments.
        for s in [
            "/admin/.", "/admin/x/.", "/admin/..", "/admin/x/..", "/public/.", "/public/x/..", "/public/x/.",
            "/public/..", "/public/...", "/public/x.", "/public/x..", "/admin./x", "/admin%2e/x", "/admin.%2e/x",
            "/public/x/%2e", "/public/x/%2e%2e", "/public/x/%2e%2e/", "/public/.../admin/x", "/public/..%2e/admin/x",
            "/v1/tenants/acme/events/.", "/v1/tenants/acme/events/..", "/v1/tenants/other/events/../../acme/events",
        ] { add(s) }
        // `;` parameters on and beside dot segments.
        for s in [
            "/public/..;/admin/x", "/public/..;x/admin/x", "/public/.;/admin/x", "/public/%2e%2e;x/admin/x",
            "/public/x;/../admin/x", "/admin;x/y", "/public;x/../admin/x", "/public/%2e%2e%3b/admin/x",
        ] { add(s) }
        // Tenant paths through other routes, and tenant climbs.
        for s in [
            "/public/../v1/tenants/other/events", "/old/../v1/tenants/other/events", "/raw/../v1/tenants/other/events",
            "/v1/tenants/acme/../other/events", "/v1/tenants/acme/events/../../other/events", "/v1//tenants//other//events",
            "/v1/tenants/acme/events", "/v1/tenants/other/events", "/v1/tenants//events", "/v1/tenants/acme/events/",
            "/v1/./tenants/./acme/./events", "/v1/tenants/./other/events",
        ] { add(s) }
        // Rewrites, the plain routes, merges and queries.
        for s in [
            "/old/a", "/old/../admin/x", "/old/%2e%2e/admin/x", "/old//a//b", "/old/a/../b", "/old/a/../../admin/x",
            "/public/x", "//admin/x", "///admin/x", "/./admin/x", "/public//x", "//public/x", "/raw/x", "/raw//x",
            "/raw/./x", "/raw/a%2Fb", "/raw/a%2fb", "/raw/a%5Cb", "/raw/a\\b", "/public/../raw/x", "/raw/x/../y",
            "/public/x?a=../admin", "/public/../admin/x?y=1", "/public/x?%2e%2e/admin", "/old/a?b=/../admin",
            "/public/x/..?q=1", "/raw/..%2Fadmin/x?q=1", "/admin/x", "/admin", "/public", "/",
        ] { add(s) }
        // Malformed or refused encodings.
        for s in ["/public/%2", "/public/%zz/x", "/public/%00/x", "/public/%0a/x", "/public/%7f/x", "/public/x%", "/public/%2e%2"] {
            add(s)
        }
        // Absolute-form: the path part is treated the same as origin-form.
        for s in [
            "/public/../admin/x", "/public/%2e%2e/admin/x", "/public/%2E%2E/admin/x", "/public/.%2e/admin/x",
            "//admin/x", "/old/../admin/x", "/public/../v1/tenants/other/events", "/v1/tenants/acme/events",
            "/public/..%2Fadmin/x", "/raw/..%2Fadmin/x", "/public/x", "/raw/x", "/%61dmin/x", "/public/..;x/admin/x",
        ] {
            add("http://gw.test" + s)
        }
        for s in [
            "HTTP://GW.TEST/public/%2e%2e/admin/x", "https://gw.test/public/../admin/x", "http://other.test/public/../admin/x",
            "http://gw.test", "http://gw.test?x=1", "http://gw.test:80/public/%2e%2e/%61dmin/x", "http://gw.test/..",
        ] { add(s) }
        return out
    }


    // MARK: - The test

    /// nginx's answer, parsed: `loc=NAME uri=URI req=TARGET`.
    struct NginxAnswer {
        var loc: String
        var uri: String
        var req: String

        init?(_ body: String) {
            var text = Substring(body)
            if text.hasSuffix("\n") { text = text.dropLast() }
            guard text.hasPrefix("loc="), let u = text.range(of: " uri="), let r = text.range(of: " req=", options: .backwards),
                  u.upperBound <= r.lowerBound else { return nil }
            loc = String(text[text.index(text.startIndex, offsetBy: 4)..<u.lowerBound])
            uri = String(text[u.upperBound..<r.lowerBound])
            req = String(text[r.upperBound...])
        }
    }

    @Test func noSpellingReachesALocationItsRouteDoesNotAllow() throws {
        let nginx = try NginxServer()
        let redis = try RedisServer()
        let token = randomToken("acme")
        redis.putSession(token, user: "u-acme", tenant: "acme", scopes: "events:read")
        let gw = try GatewayHarness(toml: Self.config(nginxPort: nginx.port, redisPort: redis.port))
        defer { gw.stop() }

        let spellings = Self.spellings()
        #expect(spellings.count > 100)
        var distribution: [String: Int] = [:]
        var forwardedChecked = 0
        for target in spellings {
            for withToken in [false, true] {
                let who = withToken ? "acme token" : "no token"
                let context = "\(target) [\(who)]"
                let expected = Self.expected(target, withToken: withToken)
                let c = try gw.client(timeout: 3)
                c.send(AuthRig.requestText(target: target, headers: withToken ? ["Authorization: Bearer \(token)"] : []))
                let r: HTTPTestResponse
                do { r = try c.readResponse() } catch {
                    Issue.record("no complete response for \(context): \(error)")
                    continue
                }
                let answer = NginxAnswer(r.bodyText)
                let ownAnswer = r.header("content-type") == "application/json"
                let source = answer.map { "nginx loc=\($0.loc)" } ?? (ownAnswer ? "gateway" : "nginx error page")
                distribution["\(who): \(r.status) \(source)", default: 0] += 1

                // The oracle; violations on a known raw_path escape are collected instead.
                var violations: [String] = []
                if ![200, 400, 401, 403, 404].contains(r.status) { violations.append("(d) status \(r.status)") }
                if r.status == 200 {
                    if answer?.loc == "admin" { violations.append("(a) served by loc=admin") }
                    if !withToken, answer?.loc != "public", !(answer?.loc == "raw" && expected.route == .raw) {
                        violations.append("(b) 200 without a token from \(source)")
                    }
                    if withToken, answer?.loc == "tenants", answer?.uri != "/v1/tenants/acme/events" {
                        violations.append("(c) tenants location served \(answer?.uri ?? "?")")
                    }
                    if expected.route == .raw, let a = answer, !a.uri.hasPrefix("/raw/") {
                        violations.append("raw route resolved by nginx as \(a.uri)")
                    }
                }
                if !expected.statuses.contains(r.status) {
                    violations.append("status \(r.status), model expects \(expected.statuses.sorted())")
                }
                if r.status == 200 {
                    if let want = expected.forwarded {
                        if answer?.req != want { violations.append("upstream received \(answer?.req ?? "?"), expected \(want)") }
                        forwardedChecked += 1
                    }
                } else if r.status == 400, expected.route == .raw, expected.statuses.contains(200) {
                    // A raw target nginx refuses itself (climbing above its root): relayed, not the gateway's JSON.
                    if ownAnswer { violations.append("gateway refused a raw_path target") }
                }
                for v in violations {
                    Issue.record("\(context): \(v); response \(r.status) \(r.bodyText.prefix(200))")
                }
            }
        }
        // Something was forwarded and checked on each route kind, so the oracle is not vacuous.
        #expect(forwardedChecked > 100, "only \(forwardedChecked) forwarded targets checked")
        #expect(distribution.keys.contains { $0.hasSuffix(": 200 nginx loc=tenants") })
        #expect(distribution.keys.contains { $0.hasSuffix(": 401 gateway") })
        #expect(distribution.keys.contains { $0.hasSuffix(": 403 gateway") })
        let summary = distribution.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        print("PathCanonicalNginx: \(spellings.count) spellings x 2 credentials = \(spellings.count * 2) requests; "
            + "\(forwardedChecked) forwarded targets checked\n\(summary)")
    }
}
