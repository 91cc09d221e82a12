import Testing
@testable import StreamgateCore

/// Every error kind, with its exact `file:line:col`. Configs are written as line arrays so the
/// line numbers in the expectations can be checked by eye (index + 1).
@Suite struct ConfigValidationTests {
    func errors(_ lines: [String], env: [String: String] = [:]) -> [String] {
        configErrors(lines.joined(separator: "\n"), env: env)
    }

    @Test func unknownKeysWithSuggestions() {
        let found = errors([
            "lsteners = 1",                       // 1
            "",
            "[gateway]",                          // 3
            "workers = 4",
            "drain_timeot = \"10s\"",             // 5
            "",
            "[[listeners]]",
            "address = \"127.0.0.1:8080\"",
            "",
            "[upstreams.demo]",                   // 10
            "targets = [\"127.0.0.1:9000\"]",
            "pool = 3",                           // 12
            "",
            "[[routes]]",                         // 14
            "name = \"a\"",
            "path = \"/a\"",
            "upstreem = \"demo\"",                // 17
            "",
            "[sessions.fields]",                  // 19
            "tennant = \"t\"",                    // 20
        ])
        #expect(found == [
            "t.toml:1:1: unknown key 'lsteners' at the top level (did you mean 'listeners'?)",
            "t.toml:5:1: unknown key 'drain_timeot' in [gateway] (did you mean 'drain_timeout'?)",
            "t.toml:12:1: unknown key 'pool' in [upstreams.demo]",
            "t.toml:14:1: missing required key 'upstream' in [routes]",
            "t.toml:17:1: unknown key 'upstreem' in [routes] (did you mean 'upstream'?)",
            "t.toml:20:1: unknown key 'tennant' in [sessions.fields] (did you mean 'tenant'?)",
        ])
    }

    @Test func wrongTypes() {
        let found = errors([
            "[gateway]",
            "drain_timeout = 30",                  // 2:17
            "workers = true",                      // 3:11
            "",
            "[limits]",
            "max_headers = \"100\"",               // 6:15
            "client_buffer = true",                // 7:17
            "",
            "[[listeners]]",
            "address = 8080",                      // 10:11
            "",
            "[upstreams.demo]",
            "targets = \"127.0.0.1:9000\"",        // 13:11
            "",
            "[[routes]]",
            "name = \"a\"",
            "path = \"/a\"",
            "upstream = \"demo\"",
            "sse = \"yes\"",                       // 19:7
            "methods = [\"GET\", 1]",              // 20:19
        ])
        #expect(found == [
            "t.toml:2:17: expected a duration string like \"15s\", found integer",
            "t.toml:3:11: expected \"auto\" or an integer, found boolean",
            "t.toml:6:15: expected an integer, found string",
            "t.toml:7:17: expected a size like \"64KiB\" or an integer byte count, found boolean",
            "t.toml:10:11: expected a string, found integer",
            "t.toml:13:11: expected an array of strings, found string",
            "t.toml:19:7: expected a boolean (true or false), found string",
            "t.toml:20:19: expected a string, found integer",
        ])
    }

    @Test func invalidValues() {
        let found = errors([
            "[gateway]",
            "drain_timeout = \"30 s\"",                          // 2:17
            "workers = 0",                                       // 3:11
            "log_level = \"loud\"",                              // 4:13
            "",
            "[limits]",
            "max_body_bytes = \"10mb\"",                         // 7:18
            "keepalive_timeout = \"0s\"",                        // 8:21
            "",
            "[[listeners]]",
            "address = \"localhost:8080\"",                      // 11:11
            "tls_cert = \"/c.pem\"",                             // 12:12
            "",
            "[upstreams.demo]",
            "targets = [\"127.0.0.1:9000\", \"bad host:1\"]",    // 15:30
            "",
            "[[routes]]",
            "name = \"a\"",
            "path = \"a\"",                                      // 19:8
            "upstream = \"demo\"",
            "methods = [\"get\"]",                               // 21:12
        ])
        #expect(found == [
            "t.toml:2:17: invalid duration \"30 s\" for 'drain_timeout': expected a number with a unit ms, s, m, h or d, like \"250ms\", \"15s\" or \"1m30s\"",
            "t.toml:3:11: 'workers' must be from 1 to 1024, found 0",
            "t.toml:4:13: invalid value \"loud\" for 'log_level': expected one of \"trace\", \"debug\", \"info\", \"warning\", \"error\"",
            "t.toml:7:18: invalid size \"10mb\" for 'max_body_bytes': expected bytes or a number with B, KB, MB, GB, KiB, MiB or GiB, like \"64KiB\"",
            "t.toml:8:21: 'keepalive_timeout' must be greater than zero",
            "t.toml:11:11: invalid address \"localhost:8080\": host must be an IPv4 address, \"*\" or a bracketed IPv6 address (names are not resolved for listeners)",
            "t.toml:12:12: 'tls_cert' is set without 'tls_key': set both or neither",
            "t.toml:15:30: invalid target \"bad host:1\": invalid host name",
            "t.toml:19:8: invalid path \"a\": must start with '/'",
            "t.toml:21:12: method \"get\" must be uppercase (\"GET\"): methods are case-sensitive",
        ])
    }

    @Test func referencesDuplicatesAndShadowedRoutes() {
        let found = errors([
            "[[listeners]]",
            "address = \"127.0.0.1:8080\"",       // 2
            "",
            "[[listeners]]",
            "address = \"127.0.0.1:8080\"",       // 5:11 duplicate listener
            "",
            "[admin]",
            "address = \"127.0.0.1:8080\"",       // 8:11 clashes with listener
            "",
            "[upstreams.events]",
            "targets = [\"127.0.0.1:9000\"]",
            "",
            "[[routes]]",
            "name = \"a\"",                       // 14
            "path = \"/x\"",                      // 15
            "methods = [\"GET\", \"POST\"]",
            "upstream = \"event\"",               // 17:12 unknown upstream
            "",
            "[[routes]]",
            "name = \"a\"",                       // 20:8 duplicate name
            "path = \"/y\"",
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"b\"",
            "path = \"/x\"",                      // 26:8 shadowed by a (POST overlaps)
            "methods = [\"POST\"]",
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"c\"",
            "path = \"/x\"",                      // no error: methods disjoint
            "methods = [\"PUT\"]",
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"p1\"",
            "path_prefix = \"/api/\"",            // 38
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"p2\"",
            "path_prefix = \"/api/\"",            // 43:15 shadowed by p1
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"t1\"",
            "path = \"/u/{id}/posts\"",           // 48
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"t2\"",
            "path = \"/u/{user}/posts\"",         // no error: another host
            "host = \"api.example.com\"",
            "upstream = \"events\"",
            "",
            "[[routes]]",
            "name = \"t3\"",
            "path = \"/u/{uid}/posts\"",          // 59:8 same shape as t1 (all methods)
            "methods = [\"HEAD\"]",
            "upstream = \"events\"",
        ])
        #expect(found == [
            "t.toml:5:11: listener address 127.0.0.1:8080 conflicts with the listener at line 2",
            "t.toml:8:11: admin address 127.0.0.1:8080 conflicts with the listener at line 2",
            "t.toml:17:12: unknown upstream \"event\" (did you mean 'events'?)",
            "t.toml:20:8: duplicate route name 'a' (first defined at line 14)",
            "t.toml:26:8: route 'b' can never match: route 'a' (line 15) has the same path, host and overlapping methods",
            "t.toml:43:15: route 'p2' can never match: route 'p1' (line 38) has the same path_prefix, host and overlapping methods",
            "t.toml:59:8: route 't3' can never match: route 't1' (line 48) has a path pattern of the same shape, host and overlapping methods",
        ])
    }

    @Test func listenerConflicts() {
        // Port 0 twice is fine (tests bind ephemeral ports); a wildcard overlaps a specific address.
        #expect(errors([
            "[[listeners]]", "address = \"127.0.0.1:0\"",
            "[[listeners]]", "address = \"127.0.0.1:0\"",
            "[admin]", "address = \"127.0.0.1:0\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"u\"",
        ]) == [])
        #expect(errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[[listeners]]", "address = \"[::1]:8080\"",        // other family: fine
            "[admin]", "address = \"127.0.0.1:8080\"",          // 6:11
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"u\"",
        ]) == ["t.toml:6:11: admin address 127.0.0.1:8080 conflicts with the listener at line 2"])
    }

    @Test func getShadowsALaterHeadOnlyRoute() {
        let found = errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]", "name = \"get\"", "path = \"/x\"", "methods = [\"GET\"]", "upstream = \"u\"",
            "[[routes]]", "name = \"head\"", "path = \"/x\"", "methods = [\"HEAD\"]", "upstream = \"u\"", // 12:8
        ])
        #expect(found == ["t.toml:12:8: route 'head' can never match: route 'get' (line 7) has the same path, host and overlapping methods"])
    }

    @Test func missingRequiredTablesAndKeys() {
        #expect(configErrors("") == [
            "t.toml:1:1: missing required table [[listeners]]",
            "t.toml:1:1: missing required table [upstreams.NAME]",
            "t.toml:1:1: missing required table [[routes]]",
        ])
        let found = errors([
            "[[listeners]]",
            "address = \"127.0.0.1:8080\"",
            "",
            "[admin]",                            // 4
            "",
            "[redis]",                            // 6
            "timeout = \"1s\"",
            "",
            "[upstreams.demo]",                   // 9
            "connect_timeout = \"1s\"",
            "",
            "[[routes]]",                         // 12
            "methods = [\"GET\"]",
        ])
        #expect(found == [
            "t.toml:4:1: missing required key 'address' in [admin]",
            "t.toml:6:1: missing required key 'url' in [redis]",
            "t.toml:9:1: missing required key 'targets' in [upstreams.demo]",
            "t.toml:12:1: missing required key 'name' in [routes]",
            "t.toml:12:1: missing required key 'path' or 'path_prefix' in [routes]",
            "t.toml:12:1: missing required key 'upstream' in [routes]",
        ])
    }

    @Test func wronglyShapedTables() {
        let found = errors([
            "[listeners]",                        // 1: should be [[listeners]]
            "address = \"127.0.0.1:8080\"",
            "",
            "[upstreams]",                        // 4: no upstream defined
            "",
            "[[routes]]",
            "name = \"a\"",
            "path = \"/a\"",
            "upstream = \"demo\"",                // 9:12
        ])
        #expect(found.count == 3)
        #expect(found[0].hasPrefix("t.toml:1:") && found[0].hasSuffix("expected an array of tables [[listeners]], found table"))
        #expect(found[1] == "t.toml:4:1: [upstreams] must define at least one upstream, as [upstreams.NAME]")
        #expect(found[2] == "t.toml:9:12: unknown upstream \"demo\"")
    }

    @Test func syntaxErrorsKeepTheParserPosition() {
        let found = configErrors("[gateway]\nworkers = = 3\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("t.toml:2:"))
    }

    @Test func routeShapeRules() {
        let found = errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]",                         // 5
            "name = \"both\"",
            "path = \"/a\"",
            "path_prefix = \"/a/\"",              // 8:1
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"strip-exact\"",
            "path = \"/b\"",
            "strip_prefix = true",                // 13:1
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"strip-and-rewrite\"",
            "path_prefix = \"/c/\"",
            "strip_prefix = true",
            "rewrite_prefix = \"/d/\"",           // 19:1
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"bad-pattern\"",
            "path = \"/e/x{id}\"",                // 23:8
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"dup-param\"",
            "path = \"/e/{id}/{id}\"",            // 27:8
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"bad-host\"",
            "host = \"api.example.com:443\"",     // 31:8
            "path = \"/f\"",
            "methods = []",                       // 33:11
            "upstream = \"u\"",
            "[[routes]]",
            "name = \"prefix-param\"",
            "path_prefix = \"/g/{x}/\"",          // 37:15
            "upstream = \"u\"",
        ])
        #expect(found == [
            "t.toml:8:1: set either 'path' or 'path_prefix', not both",
            "t.toml:13:1: 'strip_prefix' only applies to routes with 'path_prefix'",
            "t.toml:19:1: set either 'strip_prefix' or 'rewrite_prefix', not both",
            "t.toml:23:8: invalid path \"/e/x{id}\": a {param} must be a whole path segment (like /users/{id}/posts)",
            "t.toml:27:8: invalid path \"/e/{id}/{id}\": parameter '{id}' appears twice",
            "t.toml:31:8: invalid host \"api.example.com:443\": expected a host name like \"api.example.com\" or \"*.example.com\" (no port)",
            "t.toml:33:11: 'methods' must not be empty (omit it to allow every method)",
            "t.toml:37:15: invalid path_prefix \"/g/{x}/\": a path_prefix cannot contain {param} segments; use 'path' for patterns",
        ])
    }

    @Test func authRules() {
        // Without [redis], nothing may depend on a session.
        let withoutRedis = errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]",
            "name = \"a\"",
            "path = \"/t/{tenant}\"",
            "upstream = \"u\"",
            "auth = \"required\"",                // 9:8
            "query_token = true",                 // 10:15
            "tenant_param = \"tenant\"",          // 11:16
            "scopes = [\"read\"]",                // 12:10
            "cors_origins = \"session\"",         // 13:16
            "session_end_event = \"bye\"",        // 14:21
        ])
        #expect(withoutRedis == [
            "t.toml:9:8: auth = \"required\" needs a [redis] section (the session store)",
            "t.toml:10:15: 'query_token' has no effect with auth = \"none\"",
            "t.toml:11:16: 'tenant_param' has no effect with auth = \"none\"",
            "t.toml:12:10: 'scopes' has no effect with auth = \"none\"",
            "t.toml:13:16: cors_origins = \"session\" needs auth (the origins come from the session)",
            "t.toml:14:21: 'session_end_event' has no effect with auth = \"none\"",
        ])

        let withRedis = errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[redis]", "url = \"redis://127.0.0.1:6379/0\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]",
            "name = \"a\"",
            "path = \"/t/{tenant}/events\"",
            "upstream = \"u\"",
            "tenant_param = \"tenat\"",           // 11:16
            "cors_origins = [\"https://app.example.com/\", \"*\"]",  // 12:17, 12:45
            "last_event_id_param = \"access_token\"",               // 13:23
            "scopes = [\"a b\"]",                 // 14:11
        ])
        #expect(withRedis == [
            "t.toml:11:16: tenant_param 'tenat' is not a {param} of this route's path (did you mean 'tenant'?)",
            "t.toml:12:17: invalid origin \"https://app.example.com/\": expected scheme://host[:port] with no path, like \"https://app.example.com\"",
            "t.toml:12:45: invalid origin \"*\": expected scheme://host[:port] with no path, like \"https://app.example.com\"",
            "t.toml:13:23: 'last_event_id_param' is the token parameter ([auth] query_param)",
            "t.toml:14:11: scope \"a b\" must be non-empty and contain no whitespace",
        ])
    }

    @Test func authSectionRules() {
        let found = errors([
            "[[listeners]]", "address = \"*:8080\"",
            "[upstreams.u]", "targets = [\"h:1\"]",
            "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"u\"",
            "[redis]",
            "url = \"http://127.0.0.1:6379\"",    // 10:7
            "[sessions]",
            "key = \"session:fixed\"",            // 12:7
            "format = \"xml\"",                   // 13:10
            "[auth]",
            "api_key_header = \"X Api Key\"",     // 15:18
            "max_token_length = 1",               // 16:20
            "[identity]",
            "user_header = \"X-Who\"",
            "tenant_header = \"x-who\"",          // 19:17
            "signing_secret = \"short\"",         // 20:18
        ])
        #expect(found == [
            "t.toml:10:7: invalid redis url: the URL must start with redis://; expected redis://[user:password@]host:port/db",
            "t.toml:12:7: 'key' must contain {sha256} or {token}, or every token would map to the same session",
            "t.toml:13:10: invalid value \"xml\" for 'format': expected one of \"hash\", \"json\"",
            "t.toml:15:18: 'api_key_header' must be a header field name (letters, digits and !#$%&'*+-.^_`|~)",
            "t.toml:16:20: 'max_token_length' must be from 16 to 65536, found 1",
            "t.toml:19:17: 'tenant_header' uses the same header as 'user_header'",
            "t.toml:20:18: 'signing_secret' must be at least 32 bytes long",
        ])
    }

    @Test func allErrorsAreReportedInSourceOrder() {
        // The [[routes]] error is found last (routes are decoded after everything else) but
        // reported in file order.
        let found = errors([
            "[[routes]]", "name = \"a\"", "path = \"/a\"", "upstream = \"nope\"",   // 4:12
            "[[listeners]]", "address = \"*:99999\"",                             // 6:11
            "[upstreams.u]", "targets = [\"h:1\"]",
        ])
        #expect(found == [
            "t.toml:4:12: unknown upstream \"nope\"",
            "t.toml:6:11: invalid address \"*:99999\": port must be a number from 0 to 65535",
        ])
    }
}
