import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Child processes for tests (redis-server, the demo upstream, the streamgate binary).
///
/// posix_spawn rather than Foundation `Process`: a child spawned from a Swift Testing thread
/// inherits that thread's blocked signal mask, so SIGTERM would never reach it. Here the mask
/// is cleared, handlers reset, and every inherited descriptor above stderr is closed (sockets
/// of concurrently running tests must not live on in the child).
enum ChildProcess {
    enum Output {
        case null
        /// An open descriptor (closed in the child after being duplicated).
        case descriptor(Int32)
        /// A file created or truncated for the child.
        case file(String)
    }

    /// `newProcessGroup`: the child leads its own group, so `kill(-pid, ...)` reaches every
    /// process it starts (Chromium's helpers).
    static func spawn(_ path: String, _ args: [String], stdout: Output = .null, stderr: Output = .null,
                      closeInChild: Int32? = nil, newProcessGroup: Bool = false) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attr, 0)
        }
        posix_spawnattr_setflags(&attr, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .descriptor(let fd):
                posix_spawn_file_actions_adddup2(&actions, fd, target)
                posix_spawn_file_actions_addclose(&actions, fd)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            }
        }
        if let closeInChild { posix_spawn_file_actions_addclose(&actions, closeInChild) }
        // glibc 2.34+ has posix_spawn_file_actions_addclosefrom_np; Glibc does not import it.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let sym = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(sym, to: CloseFrom.self)(&actions, 3)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw TestError("posix_spawn \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for `pid` to exit; returns its wait status.
    @discardableResult
    static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    static func killAndReap(_ pid: pid_t) {
        Glibc.kill(pid, SIGKILL)
        reap(pid)
    }
}
