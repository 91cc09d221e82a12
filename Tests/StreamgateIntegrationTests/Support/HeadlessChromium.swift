import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A headless Chromium showing one page, in its own process group so that `close()` can
/// end the browser and every helper process it started (renderer, zygote, GPU) at once.
///
/// Pages report their results by requesting a URL on their own server (see BrowserTests):
/// the test waits for that request instead of scraping the DOM on a timer.
final class HeadlessChromium {
    /// `STREAMGATE_CHROMIUM` overrides the path.
    static var path: String { ProcessInfo.processInfo.environment["STREAMGATE_CHROMIUM"] ?? "/usr/bin/chromium" }

    private var pid: pid_t?
    private let profileDir: String

    init(url: String) throws {
        let path = Self.path
        guard access(path, X_OK) == 0 else {
            throw TestError("headless Chromium not found at \(path): install it (Debian: apt-get install chromium) or set STREAMGATE_CHROMIUM; the browser tests cannot run without it")
        }
        profileDir = FileManager.default.temporaryDirectory.appendingPathComponent("sg-chromium-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: profileDir, withIntermediateDirectories: true)
        let args = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profileDir)",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
            "--disable-dev-shm-usage", "--mute-audio", "--password-store=basic", "--use-mock-keychain",
            url,
        ]
        pid = try Self.spawn(path, args)
    }

    deinit { close() }

    /// SIGKILL to the whole process group, then reap the browser and remove its profile.
    func close() {
        guard let p = pid else { return }
        pid = nil
        Glibc.kill(-p, SIGKILL)
        var status: Int32 = 0
        while waitpid(p, &status, 0) < 0 && errno == EINTR {}
        try? FileManager.default.removeItem(atPath: profileDir)
    }

    /// posix_spawn in a new process group, signals unblocked, stdio on /dev/null, no
    /// inherited descriptors (as RedisServer does).
    private static func spawn(_ path: String, _ args: [String]) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let sym = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(sym, to: CloseFrom.self)(&actions, 3)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw TestError("posix_spawn \(path): \(rc)") }
        return pid
    }
}
