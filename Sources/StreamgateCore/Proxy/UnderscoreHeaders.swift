/// Header names containing `_`, refused on authenticating routes (`allow_underscore_headers`).
///
/// `_` is a legal field-name character (RFC 9110 §5.1 tchar), so this is policy, not syntax:
/// CGI-style gateways expose a field as `HTTP_` + its name with `-` turned into `_`
/// (RFC 3875 §4.1.18), and WSGI, Rack and PHP inherit that, so `X_Tenant` and `X-Tenant` reach
/// the application as the same variable, the client's copy possibly first. The gateway drops
/// aliases of the names it sets itself (`ForwardingHeaders.isOwned`, `IdentityHeaders.isOwned`);
/// it cannot know which other names an upstream trusts (a header set by a proxy in front of
/// it, a feature flag), so on routes where a request carries an identity it refuses them all.
public enum UnderscoreHeaders {
    /// Whether any field name contains `_`.
    public static func present(in headers: HTTPHeaders) -> Bool {
        headers.containsName { _, name in name.contains(UInt8(ascii: "_")) }
    }
}
