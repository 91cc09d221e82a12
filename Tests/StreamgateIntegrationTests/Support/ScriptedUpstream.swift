import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An upstream whose every byte the test writes by hand: for exact framing, resets,
/// truncations and timeouts. Listens on 127.0.0.1, port chosen by the kernel.
final class ScriptedUpstream {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 64) == 0 else { throw TestError("scripted upstream bind failed") }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: bound.sin_port)
    }

    deinit { Glibc.close(fd) }

    /// Waits (bounded) for the gateway to connect.
    func accept(timeout: Double = 5) throws -> RawClient {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { throw TestError("no upstream connection within \(timeout)s") }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { throw TestError("accept failed") }
        return RawClient(fd: c, timeout: timeout)
    }

    /// True if a connection is waiting to be accepted within `timeout`.
    func hasPendingConnection(timeout: Double) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, Int32(timeout * 1000)) == 1
    }
}

/// A loopback port the kernel considers free right now (bound to port 0, read back, closed):
/// for servers that cannot bind port 0 themselves, and for connection-refused tests.
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket: \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
            guard bind(fd, sa, len) == 0 else { return -1 }
            return getsockname(fd, sa, &len)
        }
    }
    guard rc == 0 else { throw TestError("bind/getsockname: \(errno)") }
    return UInt16(bigEndian: addr.sin_port)
}

/// A port nothing listens on, for connection-refused tests.
func unusedPort() -> UInt16 { try! freeLoopbackPort() }
