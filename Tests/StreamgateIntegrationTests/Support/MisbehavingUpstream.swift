import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A keep-alive HTTP/1.1 origin that writes bytes where none belong, to check that they can
/// never reach another client through a pooled connection. One thread per connection, on
/// 127.0.0.1 with a kernel-chosen port.
///
/// - `HEAD <path>`: a head with `Content-Length`, then a body anyway;
/// - `GET /nocontent...`: `204 No Content`, then a body anyway;
/// - `GET /echo/<id>`: `200` with the body exactly `<id>`;
/// - anything else: `404`.
/// Each stray body is a complete forged response, `HTTP/1.1 200 OK` with the body
/// `LEAK:<path>`, so a gateway that reads it as the answer to a later request relays it whole.
/// The head and the forgery go out in one write or two (seeded per connection), so they reach
/// the gateway together or apart. The server then keeps reading the connection, as a real
/// keep-alive server would, and records every request per connection.
final class MisbehavingUpstream: @unchecked Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let seed: UInt64
    private let lock = NSLock()
    /// Per accepted connection, in accept order: "METHOD path" of each request served on it.
    private var perConnection: [[String]] = []
    private var openFDs: Set<Int32> = []
    private var stopped = false

    init(seed: UInt64) throws {
        self.seed = seed
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
        guard rc == 0, listen(fd, 256) == 0 else { Glibc.close(fd); throw TestError("misbehaving upstream bind failed") }
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
        for fd in openFDs { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// The requests served, grouped by upstream connection.
    var connections: [[String]] {
        lock.lock(); defer { lock.unlock() }
        return perConnection
    }

    static func forgedResponse(path: String) -> String {
        let body = "LEAK:" + path
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    // MARK: - Internals

    private func acceptLoop() {
        var index = 0
        while true {
            let c = Glibc.accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            lock.lock()
            if stopped { lock.unlock(); Glibc.close(c); return }
            openFDs.insert(c)
            perConnection.append([])
            lock.unlock()
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connectionIndex = index
            index += 1
            let t = Thread { [self] in serve(c, index: connectionIndex) }
            t.stackSize = 256 * 1024
            t.start()
        }
    }

    private func serve(_ fd: Int32, index: Int) {
        defer {
            lock.lock()
            openFDs.remove(fd)
            Glibc.close(fd)
            lock.unlock()
        }
        var rng = SeededRNG(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        var buffer: [UInt8] = []
        var tmp = [UInt8](repeating: 0, count: 16384)
        while true {
            var headEnd: Int?
            while true {
                headEnd = HTTPTestResponse.find(buffer, Array("\r\n\r\n".utf8), from: 0)
                if headEnd != nil { break }
                let n = recv(fd, &tmp, tmp.count, 0)
                if n <= 0 { return }
                buffer += tmp[0..<n]
            }
            let end = headEnd! + 4
            let head = String(decoding: buffer[0..<end], as: UTF8.self)
            buffer.removeFirst(end)
            let requestLine = (head.components(separatedBy: "\r\n").first ?? "").split(separator: " ")
            guard requestLine.count == 3 else { return }
            let method = String(requestLine[0]), path = String(requestLine[1])
            lock.lock()
            perConnection[index].append("\(method) \(path)")
            lock.unlock()

            let response: String
            var stray: String?
            if method == "HEAD" {
                response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(path.utf8.count)\r\n\r\n"
                stray = Self.forgedResponse(path: path)
            } else if path.hasPrefix("/nocontent") {
                response = "HTTP/1.1 204 No Content\r\n\r\n"
                stray = Self.forgedResponse(path: path)
            } else if path.hasPrefix("/echo/") {
                let id = String(path.dropFirst("/echo/".count))
                response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(id.utf8.count)\r\n\r\n" + id
            } else {
                response = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"
            }
            if let stray {
                if rng.next() % 2 == 0 {
                    guard write(fd, Array((response + stray).utf8)) else { return }
                } else {
                    guard write(fd, Array(response.utf8)) else { return }
                    sched_yield()  // not synchronisation: only varies how the two writes land
                    guard write(fd, Array(stray.utf8)) else { return }
                }
            } else {
                guard write(fd, Array(response.utf8)) else { return }
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
