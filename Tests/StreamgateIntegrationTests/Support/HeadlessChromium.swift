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
        pid = try ChildProcess.spawn(path, args, newProcessGroup: true)
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

}
