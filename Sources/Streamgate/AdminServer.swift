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
            let text = MetricsExposition.render(gateway.metrics(), draining: gateway.isDraining,
                                                reloads: gateway.reloadCounts, configDigest: gateway.configDigest)
            return (200, "text/plain; version=0.0.4; charset=utf-8", text)
        default:
            return (404, "application/json", "{\"error\":\"not_found\"}\n")
        }
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

    deinit { connection.delegate = nil }

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
