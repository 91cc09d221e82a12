#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` for one test, on a free port picked at run time.
///
/// Readiness is detected by polling PING over TCP (bounded tries), never by sleeping a fixed
/// time. Not thread-safe: drive it from the test's thread.
///
/// Processes are started with `posix_spawn`, not Foundation's `Process`: test threads run with
/// most signals blocked, a spawned child inherits that mask, and a redis-server that cannot
/// see SIGTERM never stops. The spawn attributes reset the mask and the handlers.
final class RedisServer {
    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var port: Int
    /// Extra `redis-server` arguments, e.g. `["--requirepass", "pw"]`; kept for `restart()`.
    let extraArguments: [String]
    /// Password `cli` authenticates with (the `default` user).
    let password: String?
    private var pid: pid_t?
    private var isPaused = false

    static let serverPath = "/usr/bin/redis-server"
    static let cliPath = "/usr/bin/redis-cli"

    init(arguments: [String] = [], password: String? = nil) throws {
        self.extraArguments = arguments + (password.map { ["--requirepass", $0] } ?? [])
        self.password = password
        self.port = 0
        // Another process may take the port between our probe and redis's bind: try again.
        for _ in 0..<8 {
            let candidate = Int(try freeLoopbackPort())
            if let p = try launch(port: candidate) {
                port = candidate
                pid = p
                return
            }
        }
        throw StartError(description: "redis-server did not start after 8 ports")
    }

    /// A server on `port` exactly, e.g. taking the place of a `FakeRedis` that just stopped.
    init(port: Int, arguments: [String] = [], password: String? = nil) throws {
        self.extraArguments = arguments + (password.map { ["--requirepass", $0] } ?? [])
        self.password = password
        self.port = port
        try restart()
    }

    deinit { stop() }

    /// SIGTERM (after SIGCONT, so a paused server can act on it) and wait for exit.
    func stop() {
        guard let p = pid else { return }
        pid = nil
        if isPaused { Glibc.kill(p, SIGCONT); isPaused = false }
        Glibc.kill(p, SIGTERM)
        ChildProcess.reap(p)
    }

    /// SIGKILL: the server vanishes without closing anything gracefully.
    func kill() {
        guard let p = pid else { return }
        pid = nil
        isPaused = false
        Glibc.kill(p, SIGKILL)
        ChildProcess.reap(p)
    }

    /// SIGSTOP: connections stay open and the kernel still accepts new ones, but nothing answers.
    func pause() {
        guard let p = pid, !isPaused else { return }
        Glibc.kill(p, SIGSTOP)
        isPaused = true
    }

    func resume() {
        guard let p = pid, isPaused else { return }
        Glibc.kill(p, SIGCONT)
        isPaused = false
    }

    /// Stops the server and starts a fresh one (empty data) on the same port.
    func restart() throws {
        stop()
        // The port was ours a moment ago; a collision here is unlikely but cheap to retry.
        for _ in 0..<20 {
            if let p = try launch(port: port) {
                pid = p
                return
            }
        }
        throw StartError(description: "redis-server did not restart on port \(port)")
    }

    /// Starts the server again after `kill()` or `stop()`.
    func start() throws { try restart() }

    /// Runs `redis-cli -p port args...` synchronously and returns its trimmed output.
    @discardableResult
    func cli(_ args: [String], database: Int? = nil) -> String {
        var argv = ["-h", "127.0.0.1", "-p", String(port)]
        if let password { argv += ["-a", password, "--no-auth-warning"] }
        if let database { argv += ["-n", String(database)] }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return "" }
        guard let child = try? ChildProcess.spawn(Self.cliPath, argv + args, stdout: .descriptor(fds[1]), closeInChild: fds[0]) else {
            close(fds[0]); close(fds[1])
            return ""
        }
        close(fds[1])
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n > 0 { out += buf[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        close(fds[0])
        ChildProcess.reap(child)
        var text = String(decoding: out, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }

    // MARK: Internals

    /// Starts redis on `port`; nil if it exited (typically: port taken).
    private func launch(port: Int) throws -> pid_t? {
        let args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--logfile", ""] + extraArguments
        let child = try ChildProcess.spawn(Self.serverPath, args)
        // Up to ~5 s: redis normally answers within a few milliseconds.
        for _ in 0..<1000 {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child { return nil }
            if Self.answersPing(port: port) { return child }
            usleep(5_000)
        }
        Glibc.kill(child, SIGKILL)
        ChildProcess.reap(child)
        throw StartError(description: "redis-server on port \(port) never answered PING")
    }

    /// One PING over a fresh TCP connection; any RESP answer (+PONG, -NOAUTH) means ready.
    private static func answersPing(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard send(fd, ping, ping.count, Int32(MSG_NOSIGNAL)) == ping.count else { return false }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 && (buf[0] == UInt8(ascii: "+") || buf[0] == UInt8(ascii: "-"))
    }
}
