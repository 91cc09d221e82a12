/// The outcome of routing one request.
public enum RouteMatch: Sendable {
    /// The route itself (everything the request path needs from the configuration about it);
    /// `params` are the pattern's `{param}` values in path order, raw (percent-encoding kept).
    case matched(Route, params: [(name: String, value: String)])
    /// No route claims this host and path: 404.
    case notFound
    /// Routes claim the path but none allows the method: 405 with this `Allow` list.
    case methodNotAllowed(allow: [String])
}

/// Picks the route for a request. Immutable after `init`, so one instance is shared by all
/// worker threads without locks.
///
/// Precedence, most specific first:
/// 1. host: an exact `host` beats a `*.wildcard` (longer suffix first), which beats no `host`;
/// 2. path: exact `path` beats a pattern (more literal segments first, then more segments,
///    then more literal bytes), which beats a `path_prefix` (longest first);
/// 3. file order.
/// The first route in that order that claims host, path *and* method wins. 405 is answered
/// only when some route claims host and path but none the method; `Allow` is the union of
/// their methods (GET implies HEAD).
///
/// Matching is on the canonical path (see `RoutePath` and `PathCanonicalizer`).
public struct Router: Sendable {
    /// In file order.
    public let routes: [Route]
    /// The same routes in precedence order: what matching walks, and what `streamgate check` lists.
    public let precedenceOrder: [Route]

    public init(routes: [Route]) {
        self.routes = routes
        let keys = routes.map(Router.precedenceKey)
        precedenceOrder = routes.indices.sorted { a, b in
            let (ka, kb) = (keys[a], keys[b])
            return ka != kb ? ka.lexicographicallyPrecedes(kb, by: >) : a < b
        }.map { routes[$0] }
    }

    /// `host` is the request authority (port allowed); `path` the canonical path without the query.
    public func match(method: String, host: String, path: String) -> RouteMatch {
        var allow: [String] = []
        var anyPathMatch = false
        var params: [(name: String, value: String)] = []
        // Only routes with a host need the name without its port (most tables have none).
        var hostName: Substring?
        for route in precedenceOrder {
            if let routeHost = route.host {
                let name = hostName ?? RouteHost.stripPort(host)
                hostName = name
                if !routeHost.matches(name: name) { continue }
            }
            guard route.path.matches(path, params: &params) else { continue }
            if route.allows(method: method) { return .matched(route, params: params) }
            anyPathMatch = true
            // A route that failed the method check has a method list (nil = all).
            for m in route.methods ?? [] where !allow.contains(m) { allow.append(m) }
            if route.methods?.contains("GET") == true, !allow.contains("HEAD") { allow.append("HEAD") }
        }
        return anyPathMatch ? .methodNotAllowed(allow: allow.sorted()) : .notFound
    }

    /// The best route for host and path whatever the method: for CORS preflight (`OPTIONS`),
    /// which asks about a route before the real request is sent.
    public func matchIgnoringMethod(host: String, path: String) -> (route: Route, params: [(name: String, value: String)])? {
        var params: [(name: String, value: String)] = []
        let hostName = RouteHost.stripPort(host)
        for route in precedenceOrder {
            if let routeHost = route.host, !routeHost.matches(name: hostName) { continue }
            if route.path.matches(path, params: &params) { return (route, params) }
        }
        return nil
    }

    /// Larger sorts first: [host rank, path kind, then kind-specific tie-breakers].
    private static func precedenceKey(_ route: Route) -> [Int] {
        let hostRank = route.host?.specificity ?? -1
        switch route.path {
        case .exact(let p):
            return [hostRank, 2, p.utf8.count, 0, 0]
        case .pattern(let pattern):
            return [hostRank, 1, pattern.literalSegmentCount, pattern.segments.count, pattern.literalByteCount]
        case .prefix(let p):
            return [hostRank, 0, p.utf8.count, 0, 0]
        }
    }
}
