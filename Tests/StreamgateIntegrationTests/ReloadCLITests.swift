import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reloading the `streamgate` process as an operator does: SIGHUP, `streamgate reload`,
/// SIGUSR1 for log rotation. The process must survive every one of them.
@Suite struct ReloadCLITests {
    /// The route table of `CLIGateway`'s config with the catch-all route swapped for two
    /// narrower ones.
    private static func narrowed(_ config: String) -> String {
        config.replacingOccurrences(of: """
            [[routes]]
            name = "all"
            path_prefix = "/"
            upstream = "demo"
            """, with: """
            [[routes]]
            name = "events"
            path = "/events"
            upstream = "demo"

            [[routes]]
            name = "moved"
            path_prefix = "/moved/"
            strip_prefix = true
            upstream = "demo"
            """)
    }

    @Test func sighupAppliesAValidConfigAndReportsABrokenOneWithoutStopping() throws {
        let demo = try CLIDemoUpstream()
        let dir = try CLITempDir()
        let pidPath = dir.path + "/gw.pid"
        let gw = try CLIGateway(dir: dir, name: "gw", upstreamPort: demo.port, gatewayExtra: "pid_file = \"\(pidPath)\"")
        let pidText = try String(contentsOfFile: pidPath, encoding: .utf8)
        #expect(pidText == "\(gw.process.pid)\n", "pid_file holds the process id")

        let stream = try SSETestClient(port: gw.port, path: "/events?rate=50")
        try stream.read(events: 2)
        let original = try String(contentsOfFile: gw.configPath, encoding: .utf8)

        // A broken file: every error reported with its position, nothing changes.
        try (original + "\n[[routes]]\nname = \"broken\"\npath = 5\nupstream = \"nowhere\"\n")
            .write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        gw.process.signal(SIGHUP)
        let refused = gw.process.waitForOutput(stderr: true) { $0.contains("reload refused") }
        #expect(refused != nil, "stderr:\n\(gw.process.stderr)")
        let line = gw.process.stderr.split(separator: "\n").first { $0.contains("reload refused") }.map(String.init) ?? ""
        #expect(line.contains("gw.toml:"), "errors carry file:line:col: \(line)")
        #expect(line.contains("upstream"), "the unknown upstream is named: \(line)")
        let c = try RawClient(port: gw.port)
        c.send("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 200, "the running config is still in force")

        // A valid one through `streamgate reload --pid-file`.
        try Self.narrowed(original).write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["reload", "--pid-file", pidPath])
        #expect(r.code == 0, "stderr: \(r.stderr)")
        #expect(gw.process.waitForOutput(stderr: true) { $0.contains("config reloaded") } != nil, "stderr:\n\(gw.process.stderr)")
        c.send("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 404, "the catch-all route is gone")
        c.send("GET /moved/plain HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 200, "the new route serves")

        // The stream opened before both reloads kept going, every event in sequence.
        let seen = stream.events.count
        try stream.read(events: seen + 3)
        #expect(!stream.isFinished)
        let ids = stream.events.compactMap { Int($0.lastEventID) }
        #expect(ids.count == stream.events.count && zip(ids, ids.dropFirst()).allSatisfy { $1 == $0 + 1 }, "ids: \(ids)")

        // `streamgate reload -c FILE` finds the pid through the config's pid_file.
        let again = try CLIChild.run(CLIChild.binary("streamgate"), ["reload", "--config", gw.configPath])
        #expect(again.code == 0, "stderr: \(again.stderr)")
        #expect(gw.process.waitForOutput(stderr: true) { $0.components(separatedBy: "config reloaded").count == 3 } != nil)

        gw.process.signal(SIGTERM)
        #expect(gw.process.waitForExit(timeout: 5) == 0, "stderr:\n\(gw.process.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pidPath), "the pid file is removed at exit")
    }

    @Test func reloadWithoutAProcessFailsClearly() throws {
        let dir = try CLITempDir()
        let missing = try CLIChild.run(CLIChild.binary("streamgate"), ["reload", "--pid-file", dir.path + "/none.pid"])
        #expect(missing.code == 1)
        #expect(missing.stderr.contains("none.pid"), "\(missing.stderr)")
        let stale = try dir.write("stale.pid", "999999\n")
        let r = try CLIChild.run(CLIChild.binary("streamgate"), ["reload", "--pid-file", stale])
        #expect(r.code == 1)
        #expect(r.stderr.contains("999999"), "\(r.stderr)")
    }

    /// Log rotation: the file is moved away, SIGUSR1, and new lines go to a new file at the
    /// configured path while the old one keeps what it had.
    @Test func sigusr1ReopensTheAccessLog() throws {
        let demo = try CLIDemoUpstream()
        let dir = try CLITempDir()
        let gw = try CLIGateway(dir: dir, name: "gw", upstreamPort: demo.port)
        let c = try RawClient(port: gw.port)
        c.send("GET /plain?n=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        let rotated = gw.accessLogPath + ".1"
        // The line is written within a loop turn of the response: wait for it before moving.
        #expect(waitUntil { gw.accessLog().count == 1 })
        #expect(rename(gw.accessLogPath, rotated) == 0)
        gw.process.signal(SIGUSR1)
        // The reopen happens on the gateway's control loop: requests until one lands in the new file.
        var sent = 1
        let landed = waitUntil {
            sent += 1
            c.send("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n")
            _ = try? c.readResponse()
            return FileManager.default.fileExists(atPath: gw.accessLogPath) && !gw.accessLog().isEmpty
        }
        #expect(landed, "no line reached the reopened file; stderr:\n\(gw.process.stderr)")
        // Lines are written a loop turn after their response: wait for the last one too.
        let total = { ((try? String(contentsOfFile: rotated, encoding: .utf8)) ?? "").split(separator: "\n").count + gw.accessLog().count }
        #expect(waitUntil { total() == sent }, "every request logged exactly once, in one file or the other (\(total()) of \(sent))")
        #expect(gw.process.waitForExit(timeout: 0) == nil, "still running")
    }
}

/// Polls `condition` every 10 ms for up to `timeout` seconds (for effects with no event to
/// await, such as a line appearing in a file).
func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
