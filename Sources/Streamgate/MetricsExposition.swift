import StreamgateCore

/// `/metrics`: every worker's published counters summed (routes and upstreams by name), in
/// the Prometheus text format 0.0.4. Runs on the admin thread when scraped.
enum MetricsExposition {
    struct Totals {
        var global = WorkerMetrics()
        var routes: [(name: String, counters: RouteCounters)] = []
        var upstreams: [(name: String, counters: UpstreamCounters)] = []
        var store = StoreCounters()
        var connectionsOpen = 0
        var sessionCacheEntries = 0
    }

    /// Sums the workers. Route and upstream order: first seen (config order on worker 0).
    static func sum(_ workers: [WorkerMetrics]) -> Totals {
        var t = Totals()
        var routeIndex: [String: Int] = [:]
        var upstreamIndex: [String: Int] = [:]
        for w in workers {
            t.global.connectionsAccepted &+= w.connectionsAccepted
            t.connectionsOpen += w.connectionsOpen
            t.global.badRequests &+= w.badRequests
            t.global.slowConsumerDisconnects &+= w.slowConsumerDisconnects
            t.global.acceptErrors &+= w.acceptErrors
            t.global.connectionsRejectedPerIP &+= w.connectionsRejectedPerIP
            t.global.idleConnectionsShed &+= w.idleConnectionsShed
            t.global.streamsRefusedRoute &+= w.streamsRefusedRoute
            t.global.streamsRefusedUser &+= w.streamsRefusedUser
            t.global.streamsRefusedTenant &+= w.streamsRefusedTenant
            t.store.add(w.store)
            t.sessionCacheEntries += w.sessionCacheEntries
            for (name, counters) in zip(w.routeNames, w.routes) {
                if let i = routeIndex[name] {
                    t.routes[i].counters.add(counters)
                } else {
                    routeIndex[name] = t.routes.count
                    t.routes.append((name, counters))
                }
            }
            for (name, counters) in zip(w.upstreamNames, w.upstreams) {
                if let i = upstreamIndex[name] {
                    t.upstreams[i].counters.add(counters)
                } else {
                    upstreamIndex[name] = t.upstreams.count
                    t.upstreams.append((name, counters))
                }
            }
        }
        if routeIndex[""] == nil { t.routes.insert(("", RouteCounters()), at: 0) }
        return t
    }

    static func render(_ workers: [WorkerMetrics], draining: Bool, reloads: (succeeded: UInt64, failed: UInt64),
                       configDigest: String) -> String {
        let t = sum(workers)
        var p = PrometheusText()
        // Streams, auth and upstream time exist only for requests that matched a route.
        let routed = t.routes.filter { !$0.name.isEmpty }

        p.family("streamgate_build_info", "gauge", "Always 1; the labels name the version and the Swift compiler that built it.")
        p.sample("streamgate_build_info", [("version", StreamgateVersion.string), ("swift", StreamgateVersion.swiftCompiler)], 1)

        p.family("streamgate_connections_open", "gauge", "Client connections open.")
        p.sample("streamgate_connections_open", [], UInt64(max(0, t.connectionsOpen)))
        p.family("streamgate_connections_accepted_total", "counter", "Client connections accepted.")
        p.sample("streamgate_connections_accepted_total", [], t.global.connectionsAccepted)

        p.family("streamgate_http_requests_total", "counter",
                 "Responses by route and status class, counted when the response ends (route \"\": no route matched).")
        for r in t.routes {
            for (i, code) in StatusClass.labels.enumerated() {
                p.sample("streamgate_http_requests_total", [("route", r.name), ("code", code)], r.counters.requests[i])
            }
        }
        p.family("streamgate_http_request_duration_seconds", "histogram",
                 "Time from a request's head to its whole response handed to the client socket (event streams excluded).")
        for r in t.routes {
            p.histogram("streamgate_http_request_duration_seconds", [("route", r.name)], r.counters.duration, buckets: .request)
        }
        p.family("streamgate_upstream_first_byte_seconds", "histogram",
                 "Time from the first upstream connect attempt to the upstream's response head (event streams excluded).")
        for r in routed {
            p.histogram("streamgate_upstream_first_byte_seconds", [("route", r.name)], r.counters.firstByte, buckets: .request)
        }
        p.family("streamgate_relayed_bytes_total", "counter", "Response body bytes relayed from upstreams to clients.")
        for r in routed { p.sample("streamgate_relayed_bytes_total", [("route", r.name)], r.counters.bytes) }

        p.family("streamgate_streams_open", "gauge", "Event streams being relayed.")
        for r in routed { p.sample("streamgate_streams_open", [("route", r.name)], UInt64(max(0, r.counters.streamsOpen))) }
        p.family("streamgate_streams_started_total", "counter", "Event streams started.")
        for r in routed { p.sample("streamgate_streams_started_total", [("route", r.name)], r.counters.streamsStarted) }
        p.family("streamgate_streams_ended_total", "counter", "Event streams ended, by why.")
        for r in routed {
            for reason in StreamEndReason.allCases {
                p.sample("streamgate_streams_ended_total", [("route", r.name), ("reason", reason.label)],
                         r.counters.streamsEnded[reason.rawValue])
            }
        }
        p.family("streamgate_relayed_events_total", "counter", "Server-sent events relayed to clients (each with data).")
        for r in routed { p.sample("streamgate_relayed_events_total", [("route", r.name)], r.counters.events) }
        p.family("streamgate_keepalives_sent_total", "counter", "SSE keepalive comments written.")
        for r in routed { p.sample("streamgate_keepalives_sent_total", [("route", r.name)], r.counters.keepalives) }
        p.family("streamgate_slow_consumer_disconnects_total", "counter", "Streams cut at max_client_buffer.")
        p.sample("streamgate_slow_consumer_disconnects_total", [], t.global.slowConsumerDisconnects)

        p.family("streamgate_auth_outcomes_total", "counter",
                 "Authentication decisions on routes that authenticate, by outcome (ok, or why the request was refused).")
        for r in routed {
            for outcome in AuthOutcome.allCases {
                p.sample("streamgate_auth_outcomes_total", [("route", r.name), ("outcome", outcome.label)],
                         r.counters.auth[outcome.rawValue])
            }
        }

        p.family("streamgate_session_cache_hits_total", "counter", "Session lookups answered from the cache (negative entries included).")
        p.sample("streamgate_session_cache_hits_total", [], t.store.cacheHits)
        p.family("streamgate_session_cache_misses_total", "counter", "Session lookups the cache could not answer.")
        p.sample("streamgate_session_cache_misses_total", [], t.store.cacheMisses)
        p.family("streamgate_session_cache_entries", "gauge", "Sessions in the workers' caches.")
        p.sample("streamgate_session_cache_entries", [], UInt64(max(0, t.sessionCacheEntries)))
        p.family("streamgate_session_store_lookups_total", "counter", "Session reads sent to Redis (uncached tokens and stream re-checks).")
        p.sample("streamgate_session_store_lookups_total", [], t.store.lookups)
        p.family("streamgate_redis_lookup_duration_seconds", "histogram", "Time a session read took Redis to answer, or to fail.")
        p.histogram("streamgate_redis_lookup_duration_seconds", [], t.store.lookupDuration, buckets: .connect)
        p.family("streamgate_redis_lookup_errors_total", "counter", "Session reads that failed: Redis unreachable, timed out or an error reply.")
        p.sample("streamgate_redis_lookup_errors_total", [], t.store.lookupErrors)
        p.family("streamgate_redis_reconnects_total", "counter", "Redis connection attempts after the first (command and pub/sub links).")
        p.sample("streamgate_redis_reconnects_total", [], t.store.reconnects)
        p.family("streamgate_redis_protocol_errors_total", "counter", "Redis connections dropped for a protocol violation.")
        p.sample("streamgate_redis_protocol_errors_total", [], t.store.protocolErrors)
        p.family("streamgate_revocations_total", "counter", "Revocation messages received (each worker hears each one).")
        p.sample("streamgate_revocations_total", [], t.store.revocations)
        p.family("streamgate_revocations_malformed_total", "counter", "Revocation messages that named no token digest.")
        p.sample("streamgate_revocations_malformed_total", [], t.store.malformedRevocations)

        p.family("streamgate_upstream_connections_opened_total", "counter", "Upstream connections opened.")
        for u in t.upstreams { p.sample("streamgate_upstream_connections_opened_total", [("upstream", u.name)], u.counters.opened) }
        p.family("streamgate_upstream_connections_reused_total", "counter", "Requests served on a pooled upstream connection.")
        for u in t.upstreams { p.sample("streamgate_upstream_connections_reused_total", [("upstream", u.name)], u.counters.reused) }
        p.family("streamgate_upstream_connect_errors_total", "counter", "Upstream connects refused, timed out or without a socket.")
        for u in t.upstreams { p.sample("streamgate_upstream_connect_errors_total", [("upstream", u.name)], u.counters.connectErrors) }
        p.family("streamgate_upstream_connect_duration_seconds", "histogram", "Time to establish an upstream TCP connection.")
        for u in t.upstreams {
            p.histogram("streamgate_upstream_connect_duration_seconds", [("upstream", u.name)], u.counters.connectDuration, buckets: .connect)
        }

        p.family("streamgate_streams_refused_total", "counter", "Streams refused with 429, by the limit reached.")
        p.sample("streamgate_streams_refused_total", [("limit", "route")], t.global.streamsRefusedRoute)
        p.sample("streamgate_streams_refused_total", [("limit", "user")], t.global.streamsRefusedUser)
        p.sample("streamgate_streams_refused_total", [("limit", "tenant")], t.global.streamsRefusedTenant)
        p.family("streamgate_connections_rejected_per_ip_total", "counter", "Connections closed at accept: their IP had max_connections_per_ip.")
        p.sample("streamgate_connections_rejected_per_ip_total", [], t.global.connectionsRejectedPerIP)
        p.family("streamgate_idle_connections_shed_total", "counter", "Idle keep-alive connections closed to make room at max_connections.")
        p.sample("streamgate_idle_connections_shed_total", [], t.global.idleConnectionsShed)
        p.family("streamgate_bad_requests_total", "counter", "Requests rejected by the HTTP parser.")
        p.sample("streamgate_bad_requests_total", [], t.global.badRequests)
        p.family("streamgate_accept_errors_total", "counter", "Failed accepts (e.g. out of file descriptors).")
        p.sample("streamgate_accept_errors_total", [], t.global.acceptErrors)

        p.family("streamgate_config_reloads_total", "counter", "Config reloads (SIGHUP), by result.")
        p.sample("streamgate_config_reloads_total", [("result", "success")], reloads.succeeded)
        p.sample("streamgate_config_reloads_total", [("result", "failure")], reloads.failed)
        if !configDigest.isEmpty {
            p.family("streamgate_config_info", "gauge", "The config in force (SHA-256 of the file).")
            p.sample("streamgate_config_info", [("sha256", configDigest)], 1)
        }
        p.family("streamgate_draining", "gauge", "Whether the gateway is draining.")
        p.sample("streamgate_draining", [], draining ? 1 : 0)
        return p.text
    }
}
