import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for byte-exact HTTP tests. Every read has a deadline, so a test that
/// waits for bytes that never come fails instead of hanging.
final class RawClient {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: UInt16, host: String = "127.0.0.1", timeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { let e = errno; Glibc.close(fd); throw TestError("connect to \(port) failed: errno \(e)") }
        setTimeout(timeout)
    }

    /// Wraps an already connected socket (the server side of a scripted upstream).
    init(fd: Int32, timeout: Double = 5) {
        self.fd = fd
        setTimeout(timeout)
    }

    deinit { Glibc.close(fd) }

    /// Closes with RST instead of FIN.
    func reset() {
        var lg = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Reads until the end of an HTTP head; returns the head text and leaves the rest buffered.
    func readHead() throws -> String {
        try readUntil { HTTPTestResponse.find($0, Array("\r\n\r\n".utf8), from: 0) != nil }
        let end = HTTPTestResponse.find(buffer, Array("\r\n\r\n".utf8), from: 0)! + 4
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end)
        return head
    }

    /// Reads and throws away up to `n` bytes (not buffered); returns how many arrived before
    /// EOF or the timeout.
    func discard(upTo n: Int) -> Int {
        var tmp = [UInt8](repeating: 0, count: 256 * 1024)
        var got = 0
        while got < n {
            let r = tmp.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, n - got), 0) }
            if r <= 0 { break }
            got += r
        }
        return got
    }

    /// Reads exactly `n` bytes (after whatever is buffered).
    func readExactly(_ n: Int) throws -> [UInt8] {
        try readUntil { $0.count >= n }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func setReceiveBuffer(_ bytes: Int32) {
        var b = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    func send(_ s: String) { send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads once into the buffer. Returns bytes read; 0 = EOF; -1 = timeout/error (errno set).
    @discardableResult
    func readSome() -> Int {
        var tmp = [UInt8](repeating: 0, count: 65536)
        let n = tmp.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { buffer.append(contentsOf: tmp[0..<n]) }
        return n
    }

    /// Reads until EOF (or error/timeout); returns everything received and whether it was a clean EOF.
    func readToEnd() -> (bytes: [UInt8], cleanEOF: Bool, error: Int32) {
        while true {
            let n = readSome()
            if n == 0 { return (buffer, true, 0) }
            if n < 0 { return (buffer, false, errno) }
        }
    }

    /// Reads one complete HTTP response (Content-Length, chunked, or close-delimited).
    func readResponse() throws -> HTTPTestResponse {
        while true {
            if let (resp, used) = HTTPTestResponse.parse(buffer) {
                buffer.removeFirst(used)
                return resp
            }
            let n = readSome()
            if n == 0 {
                if let resp = HTTPTestResponse.parse(buffer, atEOF: true) { buffer.removeAll(); return resp.0 }
                throw TestError("connection closed before a complete response; got \(String(decoding: buffer, as: UTF8.self).prefix(300))")
            }
            if n < 0 { throw TestError("timed out waiting for a response; got \(String(decoding: buffer, as: UTF8.self).prefix(300))") }
        }
    }

    /// Reads until `predicate` holds for the buffer, or fails after the socket timeout.
    func readUntil(_ predicate: ([UInt8]) -> Bool) throws {
        while !predicate(buffer) {
            let n = readSome()
            if n == 0 { throw TestError("EOF before condition; got \(buffer.count) bytes") }
            if n < 0 { throw TestError("timeout before condition; got \(String(decoding: buffer, as: UTF8.self).suffix(300))") }
        }
    }

    /// True when the peer has closed (EOF or reset) within the timeout.
    func waitForClose() -> (closed: Bool, reset: Bool) {
        while true {
            let n = readSome()
            if n == 0 { return (true, false) }
            if n < 0 { return errno == ECONNRESET ? (true, true) : (false, false) }
        }
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A parsed HTTP/1.1 response, for assertions.
struct HTTPTestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var chunked: Bool
    var bodyText: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headerValues(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }

    static func parse(_ buf: [UInt8], atEOF: Bool = false) -> (HTTPTestResponse, Int)? {
        guard let headEnd = find(buf, Array("\r\n\r\n".utf8), from: 0) else { return nil }
        let headText = String(decoding: buf[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { l -> (String, String)? in
            guard let c = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        var r = HTTPTestResponse(status: status, headers: headers, body: [], chunked: false)
        var pos = headEnd + 4
        if status / 100 == 1 { return (r, pos) }
        if status == 204 || status == 304 { return (r, pos) }
        if let te = r.header("transfer-encoding"), te.lowercased().contains("chunked") {
            r.chunked = true
            while true {
                guard let lineEnd = find(buf, [13, 10], from: pos) else { return nil }
                let sizeText = String(decoding: buf[pos..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText, radix: 16) else { return nil }
                pos = lineEnd + 2
                if size == 0 {
                    guard buf.count >= pos + 2 else { return nil }
                    return (r, pos + 2)
                }
                guard buf.count >= pos + size + 2 else { return nil }
                r.body.append(contentsOf: buf[pos..<pos + size])
                pos += size + 2
            }
        }
        if let cl = r.header("content-length"), let n = Int(cl) {
            guard buf.count >= pos + n else { return nil }
            r.body = Array(buf[pos..<pos + n])
            return (r, pos + n)
        }
        guard atEOF else { return nil }
        r.body = Array(buf[pos...])
        return (r, buf.count)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }
}
