import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small threaded HTTP/1.1 origin on 127.0.0.1 (port chosen by the kernel) that records
/// every request head it receives, byte for byte, so tests can check exactly what the gateway
/// forwarded. One thread per connection; keep-alive supported.
///
/// Default replies: a path ending in `/events` gets an endless chunked `text/event-stream`
/// (`id: N` / `data: tick N`, one event per chunk, every `interval_ms` ms, default 50; at most
/// `count` events when given, then the terminating chunk); anything else gets `200 ok`.
/// A custom `handler` may answer otherwise (the browser tests serve a page with it).
final class RecordingUpstream: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        /// The request target exactly as received (path and query).
        var target: String
        var headers: [(String, String)]
        /// The whole head, CRLFs included.
        var rawHead: String

        var path: String { String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]) }
        var query: String? {
            let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 ? String(parts[1]) : nil
        }

        func values(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
        func header(_ name: String) -> String? { values(name).first }

        /// A query parameter's raw value.
        func param(_ name: String) -> String? {
            guard let q = query else { return nil }
            for seg in q.split(separator: "&") {
                let kv = seg.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if kv[0] == name { return kv.count == 2 ? String(kv[1]) : "" }
            }
            return nil
        }
    }

    enum Reply: Sendable {
        case full(status: Int, headers: [(String, String)], body: String)
        case events(intervalMilliseconds: Int, count: Int?)
    }

    typealias Handler = @Sendable (Request) -> Reply

    let port: UInt16
    private let listenFD: Int32
    private let handler: Handler
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var openFDs: Set<Int32> = []
    private var stopped = false

    init(handler: Handler? = nil) throws {
        self.handler = handler ?? RecordingUpstream.defaultReply
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 256) == 0 else { Glibc.close(fd); throw TestError("recording upstream bind failed") }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = UInt16(bigEndian: bound.sin_port)
        let t = Thread { [self] in acceptLoop() }
        t.stackSize = 256 * 1024
        t.start()
    }

    deinit { stop() }

    /// Closes the listener and every connection; the threads notice and exit.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        if stopped { return }
        stopped = true
        shutdown(listenFD, Int32(SHUT_RDWR))
        Glibc.close(listenFD)
        // Under the lock: a serving thread closes its socket only while holding it too.
        for fd in openFDs { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Every request head received so far, in arrival order.
    var requests: [Request] {
        lock.lock(); defer { lock.unlock() }
        return recorded
    }

    /// Waits (bounded) until at least `count` requests have been received.
    func waitForRequests(_ count: Int, timeout: Double = 5) throws -> [Request] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let r = requests
            if r.count >= count { return r }
            usleep(2_000)
        }
        throw TestError("upstream saw \(requests.count) requests, expected \(count)")
    }

    static let defaultReply: Handler = { req in
        if req.path.hasSuffix("/events") {
            return .events(intervalMilliseconds: req.param("interval_ms").flatMap { Int($0) } ?? 50,
                           count: req.param("count").flatMap { Int($0) })
        }
        return .full(status: 200, headers: [("Content-Type", "text/plain")], body: "ok\n")
    }

    // MARK: - Internals

    private func acceptLoop() {
        while true {
            let c = Glibc.accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            lock.lock()
            if stopped { lock.unlock(); Glibc.close(c); return }
            openFDs.insert(c)
            lock.unlock()
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let t = Thread { [self] in serve(c) }
            t.stackSize = 256 * 1024
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.lock()
            openFDs.remove(fd)
            Glibc.close(fd)
            lock.unlock()
        }
        var buffer: [UInt8] = []
        var tmp = [UInt8](repeating: 0, count: 16384)
        while true {
            // Read one head.
            var headEnd: Int?
            while true {
                headEnd = HTTPTestResponse.find(buffer, Array("\r\n\r\n".utf8), from: 0)
                if headEnd != nil { break }
                let n = recv(fd, &tmp, tmp.count, 0)
                if n <= 0 { return }
                buffer += tmp[0..<n]
            }
            let end = headEnd! + 4
            let raw = String(decoding: buffer[0..<end], as: UTF8.self)
            buffer.removeFirst(end)
            var lines = raw.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count == 3 else { return }
            let headers = lines.compactMap { l -> (String, String)? in
                guard let c = l.firstIndex(of: ":") else { return nil }
                return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
            }
            let req = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, rawHead: raw)
            // Discard a Content-Length body (tests send none otherwise).
            if let cl = req.header("content-length").flatMap({ Int($0) }), cl > 0 {
                while buffer.count < cl {
                    let n = recv(fd, &tmp, tmp.count, 0)
                    if n <= 0 { return }
                    buffer += tmp[0..<n]
                }
                buffer.removeFirst(cl)
            }
            lock.lock()
            recorded.append(req)
            lock.unlock()
            switch handler(req) {
            case .full(let status, let extra, let body):
                var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\n"
                for (n, v) in extra { head += "\(n): \(v)\r\n" }
                head += "Content-Length: \(body.utf8.count)\r\n\r\n"
                guard write(fd, Array(head.utf8) + Array(body.utf8)) else { return }
            case .events(let interval, let count):
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                guard write(fd, Array(head.utf8)) else { return }
                var n = 0
                while count.map({ n < $0 }) ?? true {
                    n += 1
                    let event = "id: \(n)\ndata: tick \(n)\n\n"
                    let chunk = String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n"
                    guard write(fd, Array(chunk.utf8)) else { return }
                    lock.lock(); let done = stopped; lock.unlock()
                    if done { return }
                    usleep(UInt32(max(1, interval) * 1000))
                }
                guard write(fd, Array("0\r\n\r\n".utf8)) else { return }
            }
        }
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }
}
