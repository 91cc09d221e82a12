import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Redis impostor on 127.0.0.1 (port chosen by the kernel) whose every reply the test
/// writes by hand: for what no real Redis sends (unsolicited replies, malformed pub/sub
/// pushes, replies of the wrong type). It parses the client's RESP commands itself, so it
/// shares no code with the client under test.
///
/// Runs its own thread (poll over blocking sockets), which keeps it alive until `stop()`:
/// call it (`defer`). `script` runs on that thread, once per command, and returns the bytes
/// to answer with: none, one reply or several.
final class FakeRedis: @unchecked Sendable {
    struct Command: Sendable, CustomStringConvertible {
        var args: [String]
        /// Which accepted connection it came on: 0 for the first.
        var connection: Int
        var name: String { args.first?.uppercased() ?? "" }
        var description: String { "#\(connection) \(args.joined(separator: " "))" }
    }

    typealias Script = @Sendable (Command) -> [UInt8]

    let port: UInt16
    private let listenFD: Int32
    private let script: Script
    private struct Shared {
        var commands: [Command] = []
        var connections = 0
        /// Unsolicited bytes to send, by connection index.
        var pushes: [(Int, [UInt8])] = []
        var stopping = false
        var finished = false
    }
    private let shared = Mutex(Shared())

    init(script: @escaping Script = FakeRedis.honest) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
                guard bind(fd, sa, len) == 0, listen(fd, 16) == 0 else { return -1 }
                return getsockname(fd, sa, &len)
            }
        }
        guard rc == 0 else { Glibc.close(fd); throw TestError("fake redis bind failed: errno \(errno)") }
        listenFD = fd
        port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { [self] in serve() }
        t.stackSize = 256 * 1024
        t.start()
    }

    /// Every command received so far, in arrival order.
    var commands: [Command] { shared.withLock { $0.commands } }
    /// Connections accepted so far.
    var connections: Int { shared.withLock { $0.connections } }

    /// Sends `bytes` on connection `index` unasked (at once if it is open).
    func push(_ bytes: [UInt8], connection index: Int) {
        shared.withLock { $0.pushes.append((index, bytes)) }
    }

    /// Closes the listener and every connection; returns once the port is free again.
    func stop() {
        let already = shared.withLock { s -> Bool in
            defer { s.stopping = true }
            return s.stopping
        }
        if already { return }
        // Bounded: the serving thread looks at the flag every 10 ms.
        for _ in 0..<500 where !shared.withLock({ $0.finished }) { usleep(2_000) }
    }

    // MARK: Serving thread

    private func serve() {
        var clients: [(fd: Int32, index: Int, input: [UInt8])] = []
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        while !shared.withLock({ $0.stopping }) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            fds += clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 10)
            if fds[0].revents & Int16(POLLIN) != 0 {
                let c = accept(listenFD, nil, nil)
                if c >= 0 {
                    let index = shared.withLock { s -> Int in
                        defer { s.connections += 1 }
                        return s.connections
                    }
                    clients.append((c, index, []))
                }
            }
            var closed: Set<Int32> = []
            for (i, p) in fds.enumerated().dropFirst() where p.revents != 0 {
                let n = recv(p.fd, &buf, buf.count, 0)
                if n <= 0 { closed.insert(p.fd); continue }
                clients[i - 1].input += buf[0..<n]
                while let (args, used) = Self.parseCommand(clients[i - 1].input) {
                    clients[i - 1].input.removeFirst(used)
                    let command = Command(args: args, connection: clients[i - 1].index)
                    shared.withLock { $0.commands.append(command) }
                    send(script(command), to: p.fd)
                }
            }
            let pushes = shared.withLock { s -> [(Int, [UInt8])] in
                defer { s.pushes.removeAll() }
                return s.pushes
            }
            for (index, bytes) in pushes {
                if let c = clients.first(where: { $0.index == index }) { send(bytes, to: c.fd) }
            }
            for fd in closed { Glibc.close(fd) }
            clients.removeAll { closed.contains($0.fd) }
        }
        for c in clients { Glibc.close(c.fd) }
        Glibc.close(listenFD)
        shared.withLock { $0.finished = true }
    }

    private func send(_ bytes: [UInt8], to fd: Int32) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// One complete `*N` array of `$len` bulk strings at the start of `input`, and its size.
    static func parseCommand(_ input: [UInt8]) -> ([String], Int)? {
        func line(from i: Int) -> (String, Int)? {
            var j = i
            while j + 1 < input.count {
                if input[j] == 13 && input[j + 1] == 10 {
                    return (String(decoding: input[i..<j], as: UTF8.self), j + 2)
                }
                j += 1
            }
            return nil
        }
        guard input.first == UInt8(ascii: "*"), let (head, start) = line(from: 1), let n = Int(head) else { return nil }
        var pos = start
        var args: [String] = []
        for _ in 0..<n {
            guard pos < input.count, input[pos] == UInt8(ascii: "$"),
                  let (lenText, dataStart) = line(from: pos + 1), let len = Int(lenText),
                  dataStart + len + 2 <= input.count else { return nil }
            args.append(String(decoding: input[dataStart..<(dataStart + len)], as: UTF8.self))
            pos = dataStart + len + 2
        }
        return (args, pos)
    }

    // MARK: Replies

    /// What a real Redis (no password, empty) would answer, for the commands the client sends.
    static let honest: Script = { cmd in
        switch cmd.name {
        case "PING": return RESP.simple("PONG")
        case "AUTH", "SELECT": return RESP.simple("OK")
        case "SUBSCRIBE":
            return cmd.args.dropFirst().enumerated().flatMap { i, channel in
                RESP.array([RESP.bulk("subscribe"), RESP.bulk(channel), RESP.integer(i + 1)])
            }
        case "GET": return RESP.null
        case "HGETALL": return RESP.array([])
        case "PTTL": return RESP.integer(-2)
        case "ECHO": return RESP.bulk(cmd.args.count > 1 ? cmd.args[1] : "")
        default: return RESP.error("ERR unknown command '\(cmd.args.first ?? "")'")
        }
    }
}

/// RESP2 reply bytes, written by hand.
enum RESP {
    static func simple(_ s: String) -> [UInt8] { Array("+\(s)\r\n".utf8) }
    static func error(_ s: String) -> [UInt8] { Array("-\(s)\r\n".utf8) }
    static func integer(_ n: Int) -> [UInt8] { Array(":\(n)\r\n".utf8) }
    static func bulk(_ s: String) -> [UInt8] { bulk(Array(s.utf8)) }
    static func bulk(_ b: [UInt8]) -> [UInt8] { Array("$\(b.count)\r\n".utf8) + b + [13, 10] }
    static let null: [UInt8] = Array("$-1\r\n".utf8)
    static func array(_ items: [[UInt8]]) -> [UInt8] { Array("*\(items.count)\r\n".utf8) + items.flatMap { $0 } }
}

/// Replies handed out one at a time to a `FakeRedis` script (which runs on the server's thread).
final class AnswerQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [[UInt8]]
    init(_ answers: [[UInt8]]) { self.answers = answers }
    /// The next answer, or nil once all were given.
    func next() -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return answers.isEmpty ? nil : answers.removeFirst()
    }
}
