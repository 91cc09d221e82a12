import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `streamgate-demo-upstream` binary, started for one test on a port it picks itself
/// (`--listen 127.0.0.1:0`; the port is read from its first stdout line).
///
/// The binary is not a dependency of the test target, so SwiftPM does not build it for the
/// test bundle alone: build everything first, then run the tests without building:
///
///     swift build --build-tests && swift test --skip-build --filter StreamingTests
///
/// (`swift test` without `--skip-build` builds all products too.) The binary is looked up in
/// `$STREAMGATE_DEMO_UPSTREAM` if set, next to the running test bundle
/// (`.build/<triple>/debug/`), then in the package's `.build/debug/`.
///
/// Started with `posix_spawn` and a clean signal mask (test threads block most signals and a
/// `Process` child would inherit that); killed with SIGKILL and reaped in `deinit`.
final class DemoUpstreamProcess {
    let port: UInt16
    let pid: pid_t
    private let stdoutFD: Int32
    private var stopped = false

    init(threads: Int = 1, timeout: Double = 10) throws {
        let path = try Self.binaryPath()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestError("pipe failed: errno \(errno)") }
        let child: pid_t
        do {
            child = try ChildProcess.spawn(path, ["--listen", "127.0.0.1:0", "--threads", String(threads)], stdout: .descriptor(fds[1]), closeInChild: fds[0])
        } catch {
            Glibc.close(fds[0]); Glibc.close(fds[1])
            throw error
        }
        Glibc.close(fds[1])
        pid = child
        stdoutFD = fds[0]
        let line: String
        do {
            line = try Self.readFirstLine(fd: fds[0], timeout: timeout)
        } catch {
            ChildProcess.killAndReap(child)
            Glibc.close(fds[0])
            throw error
        }
        guard line.hasPrefix("listening on "), let colon = line.lastIndex(of: ":"),
              let p = UInt16(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)), p != 0 else {
            ChildProcess.killAndReap(child)
            Glibc.close(fds[0])
            throw TestError("unexpected first line from \(path): \(line.debugDescription)")
        }
        port = p
    }

    deinit { stop() }

    /// SIGKILL and wait for the exit (SIGTERM could be blocked in an inherited mask; we never
    /// need a graceful end of the demo upstream).
    func stop() {
        guard !stopped else { return }
        stopped = true
        ChildProcess.killAndReap(pid)
        Glibc.close(stdoutFD)
    }

    /// True while the process runs (not yet exited).
    var isRunning: Bool {
        guard !stopped else { return false }
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    // MARK: - Internals

    static func binaryPath() throws -> String {
        let name = "streamgate-demo-upstream"
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["STREAMGATE_DEMO_UPSTREAM"], !env.isEmpty { candidates.append(env) }
        // The test bundle runs from .build/<triple>/debug/<package>PackageTests.xctest.
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/" + name)
        }
        if let arg0 = CommandLine.arguments.first, arg0.contains("/") {
            candidates.append((arg0 as NSString).deletingLastPathComponent + "/" + name)
        }
        // Package root from this file: Tests/StreamgateIntegrationTests/Support/<file>.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/\(name)").path)
        for c in candidates where access(c, X_OK) == 0 { return c }
        throw TestError("\(name) not found (looked in \(candidates)); run `swift build --build-tests` before `swift test --skip-build`")
    }

    /// Reads up to the first newline, with a deadline (the child might never print).
    private static func readFirstLine(fd: Int32, timeout: Double) throws -> String {
        var out: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var byte: UInt8 = 0
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestError("demo upstream printed no line within \(timeout)s (got \(String(decoding: out, as: UTF8.self).debugDescription))") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Int32(left * 1000) + 1)
            if r < 0 && errno == EINTR { continue }
            guard r == 1 else { continue }
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { throw TestError("demo upstream exited before printing its port (got \(String(decoding: out, as: UTF8.self).debugDescription))") }
            if byte == 0x0A { return String(decoding: out, as: UTF8.self) }
            out.append(byte)
        }
    }


}
