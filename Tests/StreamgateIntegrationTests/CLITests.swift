import Foundation
import StreamgateCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `streamgate` binary as an operator runs it: a real child process per test, its exit
/// status, its stdout/stderr, its signals. The binaries are the ones `swift build --build-tests`
/// put next to the test bundle (.build/<triple>/debug).
@Suite struct CLITests {
    // MARK: version / check

    @Test func versionPrintsTheVersion() throws {
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["version"])
        #expect(r.code == 0)
        #expect(r.stdout == "streamgate \(StreamgateVersion.string)\n")
        #expect(r.stderr.isEmpty)
    }

    @Test func checkOfTheExampleConfigExitsZeroAndPrintsTheRouteTable() throws {
        let path = CLIChild.repositoryRoot + "/gateway.example.toml"
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "config: \(path)")
        #expect(lines.contains("listeners: 127.0.0.1:8080"))
        #expect(lines.contains("upstreams:"))
        #expect(lines.contains("  demo: 127.0.0.1:9000"))
        // The table: a header, then every route of the file in match order (exact before prefix).
        guard let start = lines.firstIndex(of: "routes (in match order):") else {
            Issue.record("no route table in:\n\(r.stdout)")
            return
        }
        let table = lines[(start + 1)...].filter { !$0.isEmpty }.map {
            $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(table.first == ["NAME", "HOST", "MATCH", "METHODS", "UPSTREAM", "AUTH", "REWRITE"])
        #expect(table.dropFirst().map { $0.first ?? "" } == ["events", "plain", "api"])
        #expect(table.dropFirst().first == ["events", "*", "path=/events", "(sse)", "GET", "demo", "none", "-"])
        #expect(table.last == ["api", "*", "prefix=/api/", "*", "demo", "none", "strip"])
    }

    @Test func checkAcceptsTheConfigPathAsAnArgument() throws {
        let path = CLIChild.repositoryRoot + "/gateway.example.toml"
        let positional = try CLIChild.run(CLIChild.binary("streamgate"), ["check", path])
        let option = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(positional.code == 0)
        #expect(positional.stdout == option.stdout)
        #expect(positional.stdout.contains("routes (in match order):"))
    }

    /// One file with several independent mistakes: every one is reported, each with the
    /// position of the offending key or value, and nothing is printed on stdout.
    static let brokenConfig = """
        [gateway]
        workers = "many"
        colour = "blue"

        [[listeners]]
        address = "127.0.0.1:8080"

        [upstreams.demo]
        targets = ["127.0.0.1:9000"]
        connect_timeout = 5

        [[routes]]
        name = "a"
        path = "/a"
        upstream = "demo"

        [[routes]]
        name = "a"
        path = "/b"
        upstream = "nope"

        """

    /// (line:col, a fragment of the message) for `brokenConfig`, in file order.
    static let brokenConfigErrors: [(String, String)] = [
        ("2:11", "'workers'"),                       // wrong value: "many"
        ("3:1", "unknown key 'colour'"),             // unknown key
        ("10:19", "duration"),                       // wrong type: integer for a duration
        ("18:8", "duplicate route name 'a'"),        // duplicate route
        ("20:12", "unknown upstream \"nope\""),      // unknown upstream
    ]

    @Test func checkOfABrokenConfigListsEveryErrorWithFileLineAndColumn() throws {
        let dir = try CLITempDir()
        let path = try dir.write("broken.toml", Self.brokenConfig)
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(r.code == 1)
        #expect(r.stdout.isEmpty, "no route table for an invalid config")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == Self.brokenConfigErrors.count + 1, "stderr:\n\(r.stderr)")
        for (i, (position, fragment)) in Self.brokenConfigErrors.enumerated() where i < lines.count {
            #expect(lines[i].hasPrefix("\(path):\(position): "), "line \(i): \(lines[i])")
            #expect(lines[i].contains(fragment), "line \(i): \(lines[i])")
        }
        #expect(lines.last == "\(path): 5 errors")
    }

    @Test func checkReportsARouteShadowedByAnEarlierOneWithItsPosition() throws {
        let dir = try CLITempDir()
        let path = try dir.write("shadow.toml", """
            [[listeners]]
            address = "127.0.0.1:8080"
            [upstreams.demo]
            targets = ["127.0.0.1:9000"]
            [[routes]]
            name = "a"
            path = "/a"
            upstream = "demo"
            [[routes]]
            name = "b"
            path = "/a"
            upstream = "demo"
            """)
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(r.code == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "stderr:\n\(r.stderr)")
        #expect(lines.first?.hasPrefix("\(path):11:8: route 'b' can never match") == true, "\(lines)")
        #expect(lines.last == "\(path): 1 error")
    }

    @Test func checkReportsATOMLSyntaxErrorWithItsPosition() throws {
        let dir = try CLITempDir()
        let path = try dir.write("syntax.toml", "[gateway]\nworkers = 1\n[[listeners]]\naddress = \"127.0.0.1:8080\n")
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(r.code == 1)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "stderr:\n\(r.stderr)")
        #expect(lines.first?.hasPrefix("\(path):4:11: ") == true, "\(lines)")
        #expect(lines.first?.contains("unterminated string") == true, "\(lines)")
        #expect(lines.last == "\(path): 1 error")
    }

    @Test func checkOfAMissingFileFailsNamingTheFile() throws {
        let dir = try CLITempDir()
        let path = dir.path + "/missing.toml"
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["check", "--config", path])
        #expect(r.code == 1)
        #expect(r.stderr.hasPrefix("\(path): "), "stderr: \(r.stderr)")
    }

    // MARK: run

    @Test func runWithABrokenConfigExitsNonZeroListingTheSameErrors() throws {
        let dir = try CLITempDir()
        let path = try dir.write("broken.toml", Self.brokenConfig)
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["run", "--config", path])
        #expect(r.code != 0)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count >= Self.brokenConfigErrors.count, "stderr:\n\(r.stderr)")
        for (i, (position, fragment)) in Self.brokenConfigErrors.enumerated() where i < lines.count {
            #expect(lines[i].hasPrefix("\(path):\(position): "), "line \(i): \(lines[i])")
            #expect(lines[i].contains(fragment), "line \(i): \(lines[i])")
        }
        #expect(!r.stderr.contains("listening on"), "a broken config must not start serving")
    }

    @Test func runServesThroughTheDemoUpstreamAndExitsZeroOnSIGTERM() throws {
        let demo = try CLIDemoUpstream()
        let dir = try CLITempDir()
        let gw = try CLIGateway(dir: dir, name: "gw", upstreamPort: demo.port)

        let direct = try RawClient(port: demo.port)
        direct.send("GET /plain HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
        let expected = try direct.readResponse()

        let c = try RawClient(port: gw.port)
        c.send("GET /plain HTTP/1.1\r\nHost: demo\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(!r.body.isEmpty)
        #expect(r.body == expected.body, "the gateway passes the demo upstream's body through")

        let started = ContinuousClock.now
        gw.process.signal(SIGTERM)
        let code = gw.process.waitForExit(timeout: 5)
        #expect(code == 0, "stderr:\n\(gw.process.stderr)")
        #expect(ContinuousClock.now - started < .seconds(3), "an idle gateway stops at once on SIGTERM")
        #expect(gw.process.stderr.contains("drained and stopped"))
        #expect(c.waitForClose().closed, "the idle keep-alive client connection is closed")
        let log = gw.accessLog()
        #expect(log.count == 1)
        #expect(log.first?["path"] as? String == "/plain")
        #expect(log.first?["status"] as? Int == 200)
    }

    /// Out of file descriptors: accept fails (EMFILE), the gateway says so once and pauses its
    /// listener instead of spinning, and serves again as soon as descriptors are free. At start
    /// it warned that max_connections (10,000 by default) is more than 48 descriptors carry.
    @Test func outOfDescriptorsPausesAcceptingAndRecovers() throws {
        let demo = try CLIDemoUpstream()
        let dir = try CLITempDir()
        let gw = try CLIGateway(dir: dir, name: "gw", upstreamPort: demo.port, fileLimit: 48)
        #expect(gw.process.waitForOutput(stderr: true, { $0.contains(#""level":"warn","msg":"max_connections 10000 is more than open-file limit 48 carries"#) }) != nil,
                "the gateway warns about max_connections: \(gw.process.stderr)")
        var idle: [RawClient] = []
        for _ in 0..<60 { idle.append(try RawClient(port: gw.port)) }
        #expect(gw.process.waitForOutput(stderr: true, { $0.contains("accept failed") }) != nil,
                "the gateway reports the failed accepts: \(gw.process.stderr)")
        idle.removeAll()  // frees descriptors on both sides
        // The paused listener retries by itself: a fresh request is served.
        var served = false
        for _ in 0..<50 where !served {
            if let c = try? RawClient(port: gw.port, timeout: 2) {
                c.send("GET /plain HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
                served = (try? c.readResponse().status) == 200
            }
        }
        #expect(served)
        gw.process.signal(SIGTERM)
        #expect(gw.process.waitForExit(timeout: 10) == 0)
    }

    /// SIGTERM while a response is outstanding: the listener closes at once, the request still
    /// completes with 200, and then the process exits 0 without waiting for drain_timeout.
    /// (A scripted upstream, not the demo's /slow: the test must know the request reached the
    /// upstream before it signals, and a fixed delay would be a guess.)
    @Test func sigtermDrainsAnInFlightRequestThenExitsZero() throws {
        let up = try ScriptedUpstream()
        let dir = try CLITempDir()
        let gw = try CLIGateway(dir: dir, name: "gw", upstreamPort: up.port, drainTimeout: "20s")

        let c = try RawClient(port: gw.port)
        c.send("GET /slow?delay_ms=500 HTTP/1.1\r\nHost: demo\r\n\r\n")
        let u = try up.accept()
        #expect(try u.readHead().hasPrefix("GET /slow?delay_ms=500 HTTP/1.1\r\n"))

        gw.process.signal(SIGTERM)
        // The signal has been handled once the listener is gone: new connections are refused.
        var refused = false
        for _ in 0..<400 {
            if CLIChild.connectRefused(port: gw.port) { refused = true; break }
            usleep(5_000)
        }
        #expect(refused, "the listener closes as soon as SIGTERM arrives")
        #expect(gw.process.waitForExit(timeout: 0.2) == nil, "the gateway waits for the request in flight")

        u.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.bodyText == "slow")
        #expect(r.header("connection")?.lowercased() == "close", "a draining gateway announces the close")
        // The gateway closes the connection after the response; the client answers the FIN
        // with its own, which ends the gateway's lingering close at once.
        #expect(c.waitForClose().closed)
        c.shutdownWrite()
        let finished = ContinuousClock.now
        let code = gw.process.waitForExit(timeout: 10)
        #expect(code == 0, "stderr:\n\(gw.process.stderr)")
        #expect(ContinuousClock.now - finished < .seconds(1), "exit follows the last response, not drain_timeout")
        #expect(gw.accessLog().first?["status"] as? Int == 200)
    }

    /// Two processes on one port (SO_REUSEPORT, e.g. during a rolling restart): the kernel
    /// spreads new connections over both, and each serves its share.
    @Test func twoProcessesWithTheSamePortBothServe() throws {
        let demo = try CLIDemoUpstream()
        let dir = try CLITempDir()
        let a = try CLIGateway(dir: dir, name: "a", upstreamPort: demo.port)
        let b = try CLIGateway(dir: dir, name: "b", upstreamPort: demo.port, port: a.port)
        #expect(b.port == a.port)

        let total = 200
        var ok = 0
        for _ in 0..<total {
            let c = try RawClient(port: a.port)
            c.send("GET /plain HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
            if try c.readResponse().status == 200 { ok += 1 }
        }
        #expect(ok == total)

        // Exiting flushes the access logs: no polling for the per-turn flush needed.
        a.process.signal(SIGTERM)
        b.process.signal(SIGTERM)
        #expect(a.process.waitForExit(timeout: 5) == 0)
        #expect(b.process.waitForExit(timeout: 5) == 0)
        let servedByA = a.accessLog().count
        let servedByB = b.accessLog().count
        #expect(servedByA + servedByB == total)
        #expect(servedByA > 0 && servedByB > 0, "a: \(servedByA), b: \(servedByB)")
    }

    // MARK: streamgate-demo-upstream

    @Test func demoUpstreamRefusesBadArgumentsAndDocumentsItsFlags() throws {
        let demo = try CLIChild.binary("streamgate-demo-upstream")
        let help = try CLIChild.run(demo, ["--help"])
        #expect(help.code == 0)
        for flag in ["--listen", "--threads", "--identity-header"] { #expect(help.stdout.contains(flag), "\(help.stdout)") }
        for (args, fragment) in [(["--threads", "0"], "--threads"), (["--identity-header", "bad name"], "--identity-header"),
                                 (["--bogus"], "--bogus"), (["--listen"], "--listen")] {
            let r = try CLIChild.run(demo, args)
            #expect(r.code != 0 && r.code != nil, "\(args)")
            #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
        let r = try CLIChild.run(demo, ["--listen", "not-an-address"])
        #expect(r.code != 0 && r.code != nil)
        #expect(r.stderr.contains("error"), "\(r.stderr)")
    }

    @Test func benchRefusesBadArgumentsAndDocumentsItsFlags() throws {
        let bench = try CLIChild.binary("streamgate-bench")
        let help = try CLIChild.run(bench, ["--help"])
        #expect(help.code == 0)
        for flag in ["--mode", "--url", "--streams", "--connections", "--duration", "--tokens", "--source-ip-count", "--json",
                     "--tls", "--ca-file", "--insecure", "--server-name", "--warmup"] {
            #expect(help.stdout.contains(flag), "\(flag) in \(help.stdout)")
        }
        for (args, fragment) in [(["--mode", "udp"], "--mode"), (["--url", "ftp://x/"], "--url"), (["--duration", "soon"], "--duration"),
                                 (["--connections", "0"], "--streams"), (["--tokens", "/nonexistent/tokens"], "cannot read"),
                                 (["--insecure"], "--tls"), (["--tls", "--insecure", "--ca-file", "/tmp/ca.pem"], "--insecure"),
                                 (["--duration", "5s", "--warmup", "5s"], "--warmup")] {
            let r = try CLIChild.run(bench, args)
            #expect(r.code == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
    }

    /// `/v1/tenants/{tenant}/events` reports the identity headers of its request (null when
    /// absent) in every event, numbered after `Last-Event-ID`, and honours `count`.
    @Test func demoUpstreamTenantStreamShowsTheIdentityHeadersItReceived() throws {
        let demo = try CLIDemoUpstream()
        let c = try RawClient(port: demo.port)
        c.send("GET /v1/tenants/acme/events?count=2&rate=50 HTTP/1.1\r\nHost: demo\r\nX-Auth-User-Id: u-1\r\nx-auth-tenant-id: acme\r\nLast-Event-ID: 7\r\n\r\n")
        let s = try EventStreamReader(client: c)
        #expect(s.status == 200)
        #expect(s.header("content-type") == "text/event-stream")
        #expect(s.wait(timeout: 5) { $0.ended }, "count=2 ends the stream with the last chunk")
        let events = s.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.count == 2, "\(s.body)")
        let data = #""tenant":"acme","target":"/v1/tenants/acme/events?count=2&rate=50","headers":{"X-Auth-User-Id":"u-1","X-Auth-Tenant-Id":"acme","X-Auth-Scopes":null,"X-Auth-Expires-At":null}}"#
        #expect(events.first == "id: 8\nevent: identity\ndata: {\"seq\":8,\(data)")
        #expect(events.last == "id: 9\nevent: identity\ndata: {\"seq\":9,\(data)")

        let other = try RawClient(port: demo.port)
        other.send("GET /v1/tenants/acme/other HTTP/1.1\r\nHost: demo\r\n\r\n")
        #expect(try other.readResponse().status == 404)
    }
}

// MARK: - Support

/// A temporary directory removed when the value goes away.
final class CLITempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sg-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) throws -> String {
        let p = path + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

/// One child process with stdout and stderr in files. Started with posix_spawn and a clean
/// signal mask (test threads block signals, and children inherit the mask: see RedisServer).
/// A child still running when the value goes away is killed with SIGKILL and reaped.
final class CLIChild {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private var status: Int32?

    struct Result {
        var code: Int32?
        var stdout: String
        var stderr: String
    }

    /// Runs to completion (SIGKILL after `timeout`, then `code` is nil).
    static func run(_ path: String, _ args: [String], timeout: Double = 10) throws -> Result {
        let dir = try CLITempDir()
        let child = try CLIChild(path, args, outputDir: dir.path)
        let code = child.waitForExit(timeout: timeout)
        return Result(code: code, stdout: child.stdout, stderr: child.stderr)
    }

    init(_ path: String, _ args: [String], outputDir: String) throws {
        stdoutPath = outputDir + "/\(UUID().uuidString).stdout"
        stderrPath = outputDir + "/\(UUID().uuidString).stderr"
        pid = try ChildProcess.spawn(path, args, stdout: .file(stdoutPath), stderr: .file(stderrPath))
    }

    deinit {
        if status == nil {
            Glibc.kill(pid, SIGKILL)
            var s: Int32 = 0
            while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
        }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) {
        if status == nil { Glibc.kill(pid, sig) }
    }

    /// The exit code (128 + signal number when killed by a signal), or nil if the process is
    /// still running after `timeout` seconds.
    @discardableResult
    func waitForExit(timeout: Double) -> Int32? {
        if let status { return Self.code(status) }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            var s: Int32 = 0
            let r = waitpid(pid, &s, WNOHANG)
            if r == pid {
                status = s
                return Self.code(s)
            }
            if ContinuousClock.now >= deadline { return nil }
            usleep(2_000)
        }
    }

    var isRunning: Bool { waitForExit(timeout: 0) == nil }

    /// Polls (bounded) until `predicate` holds for the output file's text; nil when the
    /// process exits first or the time is up.
    func waitForOutput(stderr useStderr: Bool, timeout: Double = 10, _ predicate: (String) -> Bool) -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let text = useStderr ? stderr : stdout
            if predicate(text) { return text }
            if !isRunning { return predicate(useStderr ? stderr : stdout) ? text : nil }
            usleep(2_000)
        }
        return nil
    }

    /// For a `streamgate run` child on a port the test picked: true once it logs that it
    /// listens there; otherwise (the port was taken meanwhile, or it failed) it is killed and
    /// reaped, and false tells the caller to try another port.
    func startedListening(on port: UInt16) -> Bool {
        if waitForOutput(stderr: true, { $0.contains("listening on 127.0.0.1:\(port)") }) != nil { return true }
        signal(SIGKILL)
        waitForExit(timeout: 5)
        return false
    }

    private static func code(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    // MARK: Locations

    /// The directory of the running test bundle, where SwiftPM also puts the executables.
    static let binDirectory: String = {
        if let dir = ProcessInfo.processInfo.environment["STREAMGATE_BIN_DIR"] { return dir }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return ".build/debug" }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
    }()

    static func binary(_ name: String) throws -> String {
        let p = binDirectory + "/" + name
        guard access(p, X_OK) == 0 else {
            throw TestError("\(p) not found: build it first (swift build --build-tests builds every product)")
        }
        return p
    }

    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    // MARK: Sockets

    /// True when a TCP connect to 127.0.0.1:port is refused (nothing listens there).
    static func connectRefused(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc != 0 && errno == ECONNREFUSED
    }

    // MARK: Spawning

}

/// `streamgate-demo-upstream --listen 127.0.0.1:0 [arguments]`, port read from its first stdout line.
final class CLIDemoUpstream {
    let process: CLIChild
    let port: UInt16
    private let dir: CLITempDir

    /// `arguments`: more flags, e.g. `--identity-header X-User`.
    init(arguments: [String] = []) throws {
        dir = try CLITempDir()
        process = try CLIChild(try CLIChild.binary("streamgate-demo-upstream"), ["--listen", "127.0.0.1:0"] + arguments, outputDir: dir.path)
        guard let out = process.waitForOutput(stderr: false, { $0.contains("\n") }),
              let first = out.split(separator: "\n").first, first.hasPrefix("listening on 127.0.0.1:"),
              let port = UInt16(first.dropFirst("listening on 127.0.0.1:".count))
        else {
            throw TestError("demo upstream did not start: \(process.stdout) \(process.stderr)")
        }
        self.port = port
    }
}

/// `streamgate run` on a port picked at run time, access log in its own file.
final class CLIGateway {
    let process: CLIChild
    let port: UInt16
    let configPath: String
    let accessLogPath: String

    /// `port` nil: a free port (retried if another process takes it before the gateway binds).
    /// `fileLimit`: run under `prlimit --nofile=N:N` (descriptor-exhaustion tests).
    /// `gatewayExtra`: more `[gateway]` keys (e.g. `pid_file`); `extraConfig`: more tables,
    /// after the catch-all route `all` (upstream `demo`).
    init(dir: CLITempDir, name: String, upstreamPort: UInt16, port fixedPort: UInt16? = nil, drainTimeout: String = "5s",
         fileLimit: Int? = nil, gatewayExtra: String = "", extraConfig: String = "") throws {
        accessLogPath = dir.path + "/\(name).access.log"
        configPath = dir.path + "/\(name).toml"
        var lastError = ""
        for _ in 0..<(fixedPort == nil ? 5 : 1) {
            let port = try fixedPort ?? freeLoopbackPort()
            try """
                [gateway]
                workers = 1
                drain_timeout = "\(drainTimeout)"
                access_log = "\(accessLogPath)"
                \(gatewayExtra)

                [[listeners]]
                address = "127.0.0.1:\(port)"

                [upstreams.demo]
                targets = ["127.0.0.1:\(upstreamPort)"]
                connect_timeout = "1s"
                read_timeout = "30s"

                [[routes]]
                name = "all"
                path_prefix = "/"
                upstream = "demo"

                \(extraConfig)
                """.write(toFile: configPath, atomically: true, encoding: .utf8)
            let gateway = try CLIChild.binary("streamgate")
            let runArgs = ["run", "--config", dir.path + "/\(name).toml"]
            let child: CLIChild
            if let fileLimit {
                child = try CLIChild("/usr/bin/prlimit", ["--nofile=\(fileLimit):\(fileLimit)", gateway] + runArgs, outputDir: dir.path)
            } else {
                child = try CLIChild(gateway, runArgs, outputDir: dir.path)
            }
            if child.startedListening(on: port) {
                process = child
                self.port = port
                return
            }
            lastError = child.stderr
        }
        throw TestError("streamgate run did not start listening: \(lastError)")
    }

    /// Parsed access-log lines (JSON objects), one per request.
    func accessLog() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
