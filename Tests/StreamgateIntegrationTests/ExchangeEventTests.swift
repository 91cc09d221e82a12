#if canImport(Glibc)
import Glibc
#endif
@testable import Streamgate
import StreamgateCore
import StreamgateIO
import Testing

/// A `ProxyExchange` uses only what it is given (the client connection, `WorkerServices`, a
/// snapshot) and reports to its owner through `ExchangeEvent`, so it runs here without a
/// `Worker` or `ClientConnection`: a socketpair for the client, a scripted upstream, and an
/// owner that records what it is told.
@Suite struct ExchangeEventTests {
    final class RecordingOwner: ExchangeOwner {
        var events: [ExchangeEvent] = []
        func exchange(_ exchange: ProxyExchange, reported event: ExchangeEvent) { events.append(event) }
    }

    /// One exchange for `GET /x` on a catch-all route to `127.0.0.1:port`, with its error log
    /// going to a pipe the test reads.
    final class Rig {
        // Stored properties go in declaration order: the loop last, after everything bound to it.
        let owner: RecordingOwner
        let exchange: ProxyExchange
        let services: WorkerServices
        let client: Connection
        private let peer: Int32
        private let errorLog: Int32
        private let errorLogWrite: Int32
        let driver: RedisLoopDriver

        init(upstreamPort: UInt16) throws {
            let driver = RedisLoopDriver()
            self.driver = driver
            let owner = RecordingOwner()
            self.owner = owner
            var fds: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
            peer = fds[1]
            let client = Connection(loop: driver.loop, fd: fds[0])
            self.client = client
            precondition(pipe(&fds) == 0 && fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0)
            (errorLog, errorLogWrite) = (fds[0], fds[1])
            let services = WorkerServices(loop: driver.loop,
                                          logSink: LogSink(loop: driver.loop, access: nil, errors: LogFile(fd: fds[1])))
            self.services = services
            let config = try ConfigLoader.load(text: """
                [[listeners]]
                address = "127.0.0.1:0"
                [upstreams.up]
                targets = ["127.0.0.1:\(upstreamPort)"]
                [[routes]]
                name = "all"
                path_prefix = "/"
                upstream = "up"
                """, fileName: "exchange.toml", environment: [:]).get()
            let settings = try ProxySettings(config: config)
            let registry = MetricsRegistry()
            let snapshot = WorkerSnapshot.make(settings: settings, loop: driver.loop, previous: nil, registry: registry) { _ in }
            // What `Worker.syncRouteSlots` does: a counter slot for each route name.
            while services.metrics.routes.count < registry.routeNames.count { services.metrics.routes.append(RouteCounters()) }
            var parser = RequestHeadParser(limits: settings.limits)
            guard let head = try Array("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".utf8).withUnsafeBytes({ try parser.feed($0).head }) else {
                throw TestError("no request head")
            }
            guard case .matched(let route, _) = settings.router.match(method: head.method, host: head.authority, path: head.path) else {
                throw TestError("no route")
            }
            exchange = ProxyExchange(owner: owner, client: client, services: services, clientIP: "192.0.2.7", forwardingTrusted: false,
                                     snapshot: snapshot, request: head, route: route,
                                     requestID: "req-1", start: EventLoop.now(), auth: nil)
        }

        deinit {
            client.close()
            close(peer)
            close(errorLog)
            close(errorLogWrite)
        }

        var errorLogText: String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(errorLog, $0.baseAddress, $0.count) }
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        }
    }

    @Test func aCompleteResponseIsReportedAsFinishedAndCountedOnTheInjectedServices() throws {
        let upstream = try ScriptedUpstream()
        let rig = try Rig(upstreamPort: upstream.port)
        rig.exchange.start()
        let conn = try upstream.accept()
        #expect(rig.driver.run(timeout: .seconds(5)) {
            var p = pollfd(fd: conn.fd, events: Int16(POLLIN), revents: 0)
            return poll(&p, 1, 0) == 1
        })
        let head = try conn.readHead()
        #expect(head.hasPrefix("GET /x HTTP/1.1\r\n"))
        #expect(head.contains("X-Forwarded-For: 192.0.2.7\r\n"))
        conn.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(rig.driver.run(timeout: .seconds(5)) { !rig.owner.events.isEmpty })
        guard case .finished(reusable: true)? = rig.owner.events.first, rig.owner.events.count == 1 else {
            Issue.record("events: \(rig.owner.events)")
            return
        }
        let slot = rig.exchange.metricsSlot
        #expect(rig.services.metrics.routes[slot].requests[StatusClass.index(200)] == 1)
        #expect(rig.services.metrics.routes[slot].bytes == 2)
    }

    @Test func aFailureBeforeTheHeadIsReportedWithTheResponseToSend() throws {
        // A port nothing listens on: the connect is refused.
        let port = try ScriptedUpstream().port
        let rig = try Rig(upstreamPort: port)
        rig.exchange.start()
        #expect(rig.driver.run(timeout: .seconds(5)) { !rig.owner.events.isEmpty })
        guard case .failed(let response)? = rig.owner.events.first, rig.owner.events.count == 1 else {
            Issue.record("events: \(rig.owner.events)")
            return
        }
        #expect(response.status == 502)
        #expect(String(decoding: response.body, as: UTF8.self).contains("\"request_id\":\"req-1\""))
        #expect(rig.errorLogText.contains("(request req-1, route all)"))
        #expect(rig.services.metrics.routes[rig.exchange.metricsSlot].requests[StatusClass.index(502)] == 1)
    }
}
