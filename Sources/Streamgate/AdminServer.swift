import StreamgateCore
import StreamgateIO

/// The operator endpoint: `/healthz` (the process serves), `/readyz` (it accepts traffic: 503
/// while draining), `/metrics` (Prometheus text, summed over workers). Runs on its own loop so
/// a saturated worker cannot make the gateway look dead to its orchestrator.
final class AdminServer {
    private let loop: EventLoop
    private var listener: Listener?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    let gateway: GatewayStatus

    init(loop: EventLoop, fd: Int32, gateway: GatewayStatus) throws {
        self.loop = loop
        self.gateway = gateway
        listener = try Listener(loop: loop, fd: fd) { [unowned self] fd in
            let c = AdminConnection(server: self, connection: Connection(loop: self.loop, fd: fd))
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    func closed(_ c: AdminConnection) { connections[ObjectIdentifier(c)] = nil }

    func shutdown() {
        listener = nil
        for c in connections.values { c.connection.close() }
        connections.removeAll()
    }

    func respond(to head: HTTPRequestHead) -> (status: Int, contentType: String, body: String) {
        guard head.method == "GET" || head.method == "HEAD" else {
            return (405, "application/json", "{\"error\":\"method_not_allowed\"}\n")
        }
        switch head.path {
        case "/healthz":
            return (200, "application/json", "{\"status\":\"ok\"}\n")
        case "/readyz":
            return gateway.isDraining
                ? (503, "application/json", "{\"status\":\"draining\"}\n")
                : (200, "application/json", "{\"status\":\"ready\"}\n")
        case "/metrics":
            var text = AdminServer.prometheus(gateway.metrics(), draining: gateway.isDraining)
            let reloads = gateway.reloadCounts
            text += "# HELP streamgate_config_reloads_total Config reloads (SIGHUP), by result.\n# TYPE streamgate_config_reloads_total counter\n"
            text += "streamgate_config_reloads_total{result=\"success\"} \(reloads.succeeded)\nstreamgate_config_reloads_total{result=\"failure\"} \(reloads.failed)\n"
            let digest = gateway.configDigest
            if !digest.isEmpty {
                text += "# HELP streamgate_config_info The config in force (SHA-256 of the file).\n# TYPE streamgate_config_info gauge\nstreamgate_config_info{sha256=\"\(digest)\"} 1\n"
            }
            return (200, "text/plain; version=0.0.4", text)
        default:
            return (404, "application/json", "{\"error\":\"not_found\"}\n")
        }
    }

    static func prometheus(_ workers: [WorkerMetrics], draining: Bool) -> String {
        func sum(_ f: (WorkerMetrics) -> UInt64) -> UInt64 { workers.reduce(0) { $0 + f($1) } }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: UInt64, labels: String = "") {
            out += "# HELP streamgate_\(name) \(help)\n# TYPE streamgate_\(name) \(type)\nstreamgate_\(name)\(labels) \(value)\n"
        }
        metric("connections_open", "gauge", "Client connections open.", UInt64(max(0, workers.reduce(0) { $0 + $1.connectionsOpen })))
        metric("connections_accepted_total", "counter", "Client connections accepted.", sum(\.connectionsAccepted))
        metric("streams_open", "gauge", "Event streams being relayed.", UInt64(max(0, workers.reduce(0) { $0 + $1.streamsOpen })))
        metric("streams_started_total", "counter", "Event streams started.", sum(\.streamsStarted))
        metric("keepalives_sent_total", "counter", "SSE keepalive comments written.", sum(\.keepalivesSent))
        metric("slow_consumer_disconnects_total", "counter", "Streams cut at max_client_buffer.", sum(\.slowConsumerDisconnects))
        metric("bad_requests_total", "counter", "Requests rejected by the HTTP parser.", sum(\.badRequests))
        metric("accept_errors_total", "counter", "Failed accepts (e.g. out of file descriptors).", sum(\.acceptErrors))
        metric("auth_denials_total", "counter", "Requests refused by authentication or policy.", sum(\.authDenials))
        metric("session_store_lookups_total", "counter", "Redis session lookups.", sum(\.redisLookups))
        metric("session_cache_hits_total", "counter", "Session lookups answered from the cache.", sum(\.sessionCacheHits))
        metric("revocations_total", "counter", "Revocation messages received.", sum(\.revocations))
        metric("revocations_malformed_total", "counter", "Revocation messages that named no token digest.", sum(\.malformedRevocations))
        metric("redis_protocol_errors_total", "counter", "Redis connections dropped for a protocol violation.", sum(\.redisProtocolErrors))
        metric("upstream_connections_opened_total", "counter", "Upstream connections opened.", sum(\.upstreamConnectionsOpened))
        metric("upstream_connections_reused_total", "counter", "Requests served on a pooled upstream connection.", sum(\.upstreamConnectionsReused))
        metric("connections_rejected_per_ip_total", "counter", "Connections closed at accept: their IP had max_connections_per_ip.", sum(\.connectionsRejectedPerIP))
        metric("idle_connections_shed_total", "counter", "Idle keep-alive connections closed to make room at max_connections.", sum(\.idleConnectionsShed))
        out += "# HELP streamgate_streams_refused_total Streams refused with 429, by the limit reached.\n# TYPE streamgate_streams_refused_total counter\n"
        out += "streamgate_streams_refused_total{limit=\"route\"} \(sum(\.streamsRefusedRoute))\n"
        out += "streamgate_streams_refused_total{limit=\"user\"} \(sum(\.streamsRefusedUser))\n"
        out += "streamgate_streams_refused_total{limit=\"tenant\"} \(sum(\.streamsRefusedTenant))\n"
        out += "# HELP streamgate_responses_total Responses by status class.\n# TYPE streamgate_responses_total counter\n"
        for c in 1...5 {
            out += "streamgate_responses_total{class=\"\(c)xx\"} \(sum { $0.statusClasses[c] })\n"
        }
        out += "# HELP streamgate_draining Whether the gateway is draining.\n# TYPE streamgate_draining gauge\nstreamgate_draining \(draining ? 1 : 0)\n"
        return out
    }
}

/// One admin request per connection: read a head, answer, close.
final class AdminConnection: ConnectionDelegate {
    unowned let server: AdminServer
    let connection: Connection
    private var parser = RequestHeadParser(limits: HTTPLimits(maxHeaderBytes: 8192, maxHeaderCount: 50))
    private var answered = false

    init(server: AdminServer, connection: Connection) {
        self.server = server
        self.connection = connection
        connection.delegate = self
        connection.setTimeouts(read: .seconds(5), write: .seconds(5))
        connection.enableReading()
    }

    func connectionReadable(_ c: Connection) {
        guard !answered else { c.input.drain(c.inputCount); return }
        let view = c.input.peek(max: min(c.inputCount, 8200))
        do {
            let (consumed, head) = try parser.feed(view)
            c.input.drain(consumed)
            guard let head else { return }
            let r = server.respond(to: head)
            write(status: r.status, contentType: r.contentType, body: head.method == "HEAD" ? "" : r.body, length: r.body.utf8.count)
        } catch {
            write(status: error.status, contentType: "application/json", body: "{\"error\":\"bad_request\"}\n", length: 24)
        }
    }

    private func write(status: Int, contentType: String, body: String, length: Int) {
        answered = true
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: contentType)
        h.add(name: "Content-Length", value: String(length))
        h.add(name: "Cache-Control", value: "no-store")
        h.add(name: "Connection", value: "close")
        connection.output.append(HTTPSerializer.responseHead(version: .http1_1, status: status, reason: HTTPSerializer.reasonPhrase(for: status), headers: h))
        connection.output.append(body)
    }

    func connectionWritable(_ c: Connection) {
        if answered && c.outputCount == 0 { c.close(); server.closed(self) }
    }

    func connection(_ c: Connection, event: ConnectionEvent) {
        c.close()
        server.closed(self)
    }
}

/// What the admin endpoint may ask of the gateway, from its own thread.
protocol GatewayStatus: AnyObject, Sendable {
    var isDraining: Bool { get }
    func metrics() -> [WorkerMetrics]
    var reloadCounts: (succeeded: UInt64, failed: UInt64) { get }
    var configDigest: String { get }
}
