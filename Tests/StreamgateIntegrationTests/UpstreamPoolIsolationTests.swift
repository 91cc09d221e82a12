import Foundation
@testable import Streamgate
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One upstream case for `headOnlyResponsesAreNotPooled`.
struct HeadOnlyCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: String
    let response: String
    let status: Int
    /// The client reads only a head (HEAD: the head announces a body that never comes).
    let clientReadsHeadOnly: Bool
    /// The connection should go back to the pool (the control case).
    let pooled: Bool
    var testDescription: String { name }
}

/// No byte of one exchange's upstream connection ever reaches another exchange's client.
///
/// A pooled keep-alive connection is shared by clients one after another, so anything an
/// upstream writes outside a response (a body after HEAD, 204 or 304, or bytes while the
/// connection sits idle) would be read as the response to whoever takes the connection next:
/// a cross-user leak, or a forged response (response splitting / desync). The gateway closes
/// connections whose response ends at its head, and an idle connection with pending bytes or
/// EOF is never taken back (`Connection.park` and `unpark`; ConnectionParkTests covers both
/// of their mechanisms over socketpairs).
@Suite struct UpstreamPoolIsolationTests {
    // MARK: - A forged response on an idle pooled connection

    /// The race: the forged bytes arrive while the loop is busy, so one poll reports them
    /// together with the client's next request, which takes a connection from the pool in the
    /// same turn. The parked connection's read runs first and drops it (`Connection.park`).
    /// The test holds the worker's loop still to make that turn happen every time: client
    /// request first, then the forgery, each awaited in the gateway's socket, then the loop runs.
    @Test func forgedResponseOnAnIdleConnectionNeverReachesTheNextRequest() throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let client = try gw.client(timeout: 3)

        client.send("GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
        let u1 = try up.accept()
        #expect(try u1.readHead().hasPrefix("GET /first HTTP/1.1\r\n"))
        u1.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
        let r1 = try client.readResponse()
        #expect(r1.status == 200 && r1.bodyText == "first")
        // Run on the loop, after the exchange's callbacks: U1 is idle in the pool.
        #expect(try onWorkerLoop(gw) { $0.pools[0].idleCount } == 1, "U1 was pooled")

        let held = try LoopHold(gw)
        defer { held.release() }
        let clientSide = try inProcessSocket(local: gw.port, peer: try #require(ports(client.fd)).local)
        let upstreamSide = try inProcessSocket(local: try #require(ports(u1.fd)).peer, peer: up.port)
        client.send("GET /second HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(waitReadable(clientSide), "the request reached the gateway's socket")
        u1.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nFORGED")
        #expect(waitReadable(upstreamSide), "the forgery reached the gateway's socket")
        held.release()

        if up.hasPendingConnection(timeout: 2) {
            let u2 = try up.accept()
            #expect(try u2.readHead().hasPrefix("GET /second HTTP/1.1\r\n"))
            u2.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
        } else {
            Issue.record("the second request did not go on a new upstream connection")
        }
        let r2 = try client.readResponse()
        #expect(r2.status == 200)
        #expect(r2.bodyText == "real")
        #expect(!r2.bodyText.contains("FORGED"), "the forged response reached the client")
        // U1 was closed without ever carrying the second request.
        u1.setTimeout(2)
        let rest = u1.readToEnd()
        #expect(rest.cleanEOF || rest.error == ECONNRESET, "U1 closed by the gateway (errno \(rest.error))")
        #expect(!String(decoding: rest.bytes, as: UTF8.self).contains("/second"))
        // The idle read dropped it before the request looked in the pool, not `acquire`'s check.
        #expect(try onWorkerLoop(gw) { $0.pools[0].staleDiscarded } == 0)
    }

    // MARK: - Responses that end at their head

    static let headOnlyCases: [HeadOnlyCase] = [
        .init(name: "HEAD 200", request: "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n",
              response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", status: 200, clientReadsHeadOnly: true, pooled: false),
        .init(name: "GET 204", request: "GET /nc HTTP/1.1\r\nHost: h\r\n\r\n",
              response: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, clientReadsHeadOnly: false, pooled: false),
        .init(name: "GET 304", request: "GET /nm HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n",
              response: "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n", status: 304, clientReadsHeadOnly: false, pooled: false),
        // Control: a response with a body is pooled, so the cases above test the difference.
        .init(name: "GET 200 with a body (control)", request: "GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
              response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, clientReadsHeadOnly: false, pooled: true),
    ]

    /// After HEAD, 204 or 304 the gateway closes the upstream connection (whatever the upstream
    /// writes next cannot be framed, so it must not be read as a later response), and the
    /// client's next request on the same connection goes to a new upstream connection.
    @Test(arguments: headOnlyCases)
    func headOnlyResponsesAreNotPooled(_ c: HeadOnlyCase) throws {
        let up = try ScriptedUpstream()
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port))
        let client = try gw.client(timeout: 3)
        client.send(c.request)
        let u1 = try up.accept()
        _ = try u1.readHead()
        u1.send(c.response)
        let status: Int
        if c.clientReadsHeadOnly {
            let head = try client.readHead()
            status = Int(head.split(separator: " ")[1]) ?? 0
        } else {
            status = try client.readResponse().status
        }
        #expect(status == c.status)

        client.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        let next: RawClient
        if c.pooled {
            next = u1
        } else {
            u1.setTimeout(3)
            let closed = u1.waitForClose()
            #expect(closed.closed, "the gateway closed the upstream connection after \(c.name)")
            #expect(u1.buffer.isEmpty, "nothing more was sent on it: \(String(decoding: u1.buffer, as: UTF8.self))")
            next = try up.accept()
        }
        #expect(try next.readHead().hasPrefix("GET /next HTTP/1.1\r\n"))
        #expect(!up.hasPendingConnection(timeout: 0), "exactly one connection for the next request")
        next.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
        let r = try client.readResponse()
        #expect(r.status == 200 && r.bodyText == "next")
        #expect(client.buffer.isEmpty)
    }

    // MARK: - Randomized: concurrent clients, an upstream that writes stray responses

    /// 8 keep-alive clients × 50 seeded requests (GET echo, HEAD, 204) against an upstream that
    /// follows every HEAD and 204 with a forged response. Every echo must carry its own id, no
    /// response may contain `LEAK:`, and no upstream connection may serve a request after a HEAD
    /// or 204.
    @Test(arguments: [1, 2])
    func noBytesCrossBetweenClients(workers: Int) throws {
        let seed: UInt64 = 0x5EED_0000 + UInt64(workers)
        let up = try MisbehavingUpstream(seed: seed)
        defer { up.stop() }
        let gw = try GatewayHarness(toml: simpleConfig(upstreamPort: up.port), workers: workers)
        let clients = 8, perClient = 50
        let failures = FailureList()
        let kinds = KindCounts()
        let group = DispatchGroup()
        let port = gw.port
        for i in 0..<clients {
            group.enter()
            let t = Thread {
                defer { group.leave() }
                Self.runClient(index: i, requests: perClient, seed: seed &+ UInt64(i) &* 7919, port: port,
                               failures: failures, kinds: kinds)
            }
            t.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success, "clients finished")
        let failed = failures.all
        for f in failed.prefix(20) { Issue.record(Comment(rawValue: f)) }
        #expect(failed.count == 0, "failures (the first 20 are listed)")

        let counts = kinds.all
        #expect(counts["echo", default: 0] > 0 && counts["head", default: 0] > 0 && counts["nocontent", default: 0] > 0)
        let connections = up.connections
        let served = connections.reduce(0) { $0 + $1.count }
        #expect(served == clients * perClient, "the upstream served each request once")
        for (n, requests) in connections.enumerated() {
            // A HEAD or 204 ends its connection's life: nothing may follow on it.
            if let i = requests.firstIndex(where: { $0.hasPrefix("HEAD ") || $0.hasPrefix("GET /nocontent") }), i != requests.count - 1 {
                Issue.record("upstream connection \(n) served \(requests[(i + 1)...]) after \(requests[i])")
            }
        }
        print("UpstreamPoolIsolation workers=\(workers): \(counts.sorted { $0.key < $1.key }) over \(connections.count) upstream connections")
    }

    /// One client's requests on one keep-alive connection (a new one after any close).
    static func runClient(index: Int, requests: Int, seed: UInt64, port: UInt16, failures: FailureList, kinds: KindCounts) {
        var rng = SeededRNG(seed: seed)
        var client: RawClient?
        for n in 0..<requests {
            do {
                if client == nil { client = try RawClient(port: port, timeout: 3) }
                guard let c = client else { return }
                let id = "c\(index)-r\(n)-\(rng.next() % 1_000_000)"
                let roll = rng.next() % 4
                let context = "client \(index) request \(n)"
                switch roll {
                case 0, 1:
                    kinds.add("echo")
                    c.send("GET /echo/\(id) HTTP/1.1\r\nHost: h\r\n\r\n")
                    let r = try c.readResponse()
                    if r.status != 200 || r.bodyText != id {
                        failures.add("\(context): GET /echo/\(id) got \(r.status) \(r.bodyText.prefix(100))")
                    }
                    if r.header("connection")?.lowercased() == "close" { client = nil }
                case 2:
                    kinds.add("head")
                    c.send("HEAD /echo/\(id) HTTP/1.1\r\nHost: h\r\n\r\n")
                    let head = try c.readHead()
                    if !head.hasPrefix("HTTP/1.1 200 ") || head.contains("LEAK:") {
                        failures.add("\(context): HEAD /echo/\(id) got \(head.prefix(100))")
                    }
                    if head.lowercased().contains("connection: close") { client = nil }
                default:
                    kinds.add("nocontent")
                    c.send("GET /nocontent/\(id) HTTP/1.1\r\nHost: h\r\n\r\n")
                    let r = try c.readResponse()
                    if r.status != 204 || !r.body.isEmpty {
                        failures.add("\(context): GET /nocontent/\(id) got \(r.status) \(r.bodyText.prefix(100))")
                    }
                    if r.header("connection")?.lowercased() == "close" { client = nil }
                }
                if let c = client, String(decoding: c.buffer, as: UTF8.self).contains("LEAK:") {
                    failures.add("\(context): stray bytes after the response: \(String(decoding: c.buffer, as: UTF8.self).prefix(100))")
                    client = nil
                }
                // Now and then a fresh connection, so requests move between client connections too.
                if rng.next() % 10 == 0 { client = nil }
            } catch {
                failures.add("client \(index) request \(n): \(error)")
                client = nil
            }
        }
        // Nothing may arrive after the last response (a short wait: there is no event for "nothing").
        if let c = client {
            let late = c.bytesArriving(within: 0.05)
            if !late.isEmpty || !c.buffer.isEmpty {
                failures.add("client \(index): bytes after its last response: \(String(decoding: c.buffer, as: UTF8.self).prefix(100))")
            }
        }
    }
}

// MARK: - Helpers

/// Thread-safe list of failure messages from client threads (recorded on the test's thread).
final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

/// Thread-safe counts of request kinds.
final class KindCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ k: String) { lock.withLock { counts[k, default: 0] += 1 } }
    var all: [String: Int] { lock.withLock { counts } }
}

/// Holds worker 0's event loop still (a closure on the loop that waits) until `release()`.
/// Always release (defer): a loop held forever would hang the gateway's shutdown; the closure
/// also gives up by itself after 10 s.
final class LoopHold: @unchecked Sendable {
    private let entered = DispatchSemaphore(value: 0)
    private let resume = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var released = false

    init(_ gw: GatewayHarness, worker: Int = 0) throws {
        gw.gateway.slots[worker].onLoop { [entered, resume] _ in
            entered.signal()
            _ = resume.wait(timeout: .now() + 10)
        }
        guard entered.wait(timeout: .now() + 5) == .success else {
            release()
            throw TestError("the worker loop never ran the holding closure")
        }
    }

    func release() {
        let first = lock.withLock { () -> Bool in
            defer { released = true }
            return !released
        }
        if first { resume.signal() }
    }
}

/// A value handed from a worker's loop thread back to the test's thread (ordered by a semaphore).
final class LoopResult<T>: @unchecked Sendable { var value: T? }

/// Runs `body` on worker `index`'s loop thread and returns its result.
func onWorkerLoop<T>(_ gw: GatewayHarness, worker index: Int = 0, _ body: @escaping (Worker) -> T) throws -> T {
    let box = LoopResult<T>()
    let done = DispatchSemaphore(value: 0)
    gw.gateway.slots[index].onLoop { worker in
        box.value = body(worker)
        done.signal()
    }
    guard done.wait(timeout: .now() + 5) == .success, let value = box.value else {
        throw TestError("the worker loop did not run the closure")
    }
    return value
}

/// Local and peer port of a connected IPv4 TCP socket; nil for anything else.
func ports(_ fd: Int32) -> (local: UInt16, peer: UInt16)? {
    func port(_ get: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> UInt16? {
        var a = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { get(fd, $0, &len) } }
        guard rc == 0, a.sin_family == sa_family_t(AF_INET) else { return nil }
        return UInt16(bigEndian: a.sin_port)
    }
    guard let local = port({ getsockname($0, $1, $2) }), let peer = port({ getpeername($0, $1, $2) }) else { return nil }
    return (local, peer)
}

/// The gateway's end of a loopback TCP connection. The gateway runs in this process, so its
/// descriptor is one of ours: found by its (local, peer) ports, which are unique on loopback.
func inProcessSocket(local: UInt16, peer: UInt16) throws -> Int32 {
    for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
        if let fd = Int32(entry), let p = ports(fd), p.local == local, p.peer == peer { return fd }
    }
    throw TestError("no socket in this process with local port \(local) and peer port \(peer)")
}

/// Waits (poll, bounded) until `fd` has bytes to read; does not read them.
func waitReadable(_ fd: Int32, timeout: Double = 2) -> Bool {
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&pfd, 1, Int32(timeout * 1000)) == 1
}
