import StreamgateCore
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// What the `streamgate` command does, kept in the library so C callbacks never live in
/// top-level (MainActor) code and tests can call it.
public enum GatewayRunner {
    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }

    static func printError(_ s: String) {
        ProcessLimits.writeAll(fd: 2, Array((s + "\n").utf8))
    }

    /// A config file read, validated and resolved for the data path.
    struct LoadedConfig {
        var config: GatewayConfig
        var settings: ProxySettings
        var listenAddresses: [SocketAddress]
        /// Hex SHA-256 of the file's bytes: logged with each (re)load, shown in metrics.
        var digest: String
    }

    /// Every problem found in a config, each as `file:line:col: message`.
    struct LoadErrors: Error { var messages: [String] }

    /// Reads, validates and resolves `configPath`.
    static func load(configPath: String) -> Result<LoadedConfig, LoadErrors> {
        let file: ConfigFile.Loaded
        switch ConfigFile.load(path: configPath, environment: environment()) {
        case .failure(let errors): return .failure(LoadErrors(messages: errors.errors.map(\.description)))
        case .success(let f): file = f
        }
        let config = file.config
        let settings: ProxySettings
        do { settings = try ProxySettings(config: config) } catch { return .failure(LoadErrors(messages: [error.description])) }
        var addresses: [SocketAddress] = []
        for l in config.listeners {
            do { addresses.append(try SocketAddress.resolve(l.address.description)) } catch {
                return .failure(LoadErrors(messages: ["\(configPath): listener \(l.address): \(error)"]))
            }
        }
        return .success(LoadedConfig(config: config, settings: settings, listenAddresses: addresses,
                                     digest: Hex.lowercase(file.bytes.withUnsafeBytes { Crypto.sha256($0) })))
    }

    /// `streamgate check`: 0 when valid (route table printed), 1 with every error listed.
    public static func check(configPath: String) -> Int32 {
        switch load(configPath: configPath) {
        case .failure(let failure):
            let errors = failure.messages
            for e in errors { printError(e) }
            printError("\(configPath): \(errors.count) error\(errors.count == 1 ? "" : "s")")
            return 1
        case .success(let loaded):
            print(loaded.config.describe())
            return 0
        }
    }

    /// The `[gateway] pid_file` of a config, if it loads and sets one.
    public static func pidFile(configPath: String) -> String? {
        guard case .success(let file) = ConfigFile.load(path: configPath, environment: environment()) else { return nil }
        return file.config.gateway.pidFile
    }

    /// `streamgate reload`: sends SIGHUP to the process whose id is in `pidFile`.
    public static func reload(pidFile: String) -> Int32 {
        let text: String
        switch ConfigFile.read(pidFile) {
        case .failure(let f):
            printError("streamgate reload: \(pidFile): \(f.message)")
            return 1
        case .success(let bytes): text = String(decoding: bytes, as: UTF8.self)
        }
        guard let pid = Int32(String(text.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\r" }).first ?? "")), pid > 1 else {
            printError("streamgate reload: \(pidFile): not a process id")
            return 1
        }
        guard kill(pid, SIGHUP) == 0 else {
            printError("streamgate reload: process \(pid) from \(pidFile): \(String(cString: strerror(errno)))")
            return 1
        }
        return 0
    }

    /// `streamgate run`: serves until SIGTERM/SIGINT, then drains and returns 0. SIGHUP
    /// reloads the config (an invalid one is reported and changes nothing); SIGUSR1 reopens
    /// the access log file (for log rotation).
    public static func run(configPath: String) -> Int32 {
        let loaded: LoadedConfig
        switch load(configPath: configPath) {
        case .failure(let failure):
            for e in failure.messages { printError(e) }
            return 1
        case .success(let l): loaded = l
        }
        let config = loaded.config
        let fdLimit = ProcessLimits.raiseOpenFileLimit()
        let workers: Int
        switch config.gateway.workers {
        case .auto: workers = ProcessLimits.cpuCount
        case .count(let n): workers = n
        }
        var accessLogPath: String?
        let accessLog: LogFile?
        switch config.gateway.accessLog {
        case .off: accessLog = nil
        case .stdout: accessLog = .stdout
        case .file(let path):
            guard let f = LogFile.open(path: path) else {
                printError("\(configPath): cannot open access log '\(path)'")
                return 1
            }
            accessLog = f
            accessLogPath = path
        }
        var admin: SocketAddress?
        if let a = config.admin {
            do { admin = try SocketAddress.resolve(a.address.description) } catch {
                printError("\(configPath): admin \(a.address): \(error)")
                return 1
            }
        }
        let gateway = Gateway(settings: loaded.settings, options: GatewayOptions(
            workers: workers, listenAddresses: loaded.listenAddresses, drainTimeout: config.gateway.drainTimeout, accessLog: accessLog,
            adminAddress: admin))
        gateway.configDigest = loaded.digest
        let bound: [SocketAddress]
        do { bound = try gateway.start() } catch {
            printError("streamgate: \(error)")
            return 1
        }
        let pidFile = config.gateway.pidFile
        if let pidFile, !writePIDFile(pidFile) {
            printError("streamgate: cannot write pid_file '\(pidFile)': \(String(cString: strerror(errno)))")
            gateway.drain()
            gateway.wait()
            return 1
        }
        let streams = DescriptorBudget.connections(openFileLimit: fdLimit)
        if fdLimit > 0, config.limits.maxConnections > streams {
            // Accepted past this, a client may find no descriptor left for its upstream (502).
            printError(#"{"level":"warn","msg":"max_connections \#(config.limits.maxConnections) is more than open-file limit \#(fdLimit) carries (about \#(streams) proxied connections at two descriptors each); raise the limit (LimitNOFILE, ulimit -Hn) or lower max_connections"}"#)
        }
        let control = EventLoop()
        let stop = {
            gateway.drain()
            control.stop()
        }
        let term = SignalWatcher(loop: control, signal: SIGTERM, stop)
        let intr = SignalWatcher(loop: control, signal: SIGINT, stop)
        let hup = SignalWatcher(loop: control, signal: SIGHUP) {
            reloadNow(gateway: gateway, configPath: configPath, running: config, workers: workers)
        }
        let usr1 = SignalWatcher(loop: control, signal: SIGUSR1) {
            guard let accessLog, let path = accessLogPath else { return }
            if !accessLog.reopen(path: path) {
                printError(#"{"level":"error","msg":"SIGUSR1: cannot reopen access log \#(jsonEscaped(path)): \#(jsonEscaped(String(cString: strerror(errno)))); still writing to the old file"}"#)
            }
        }
        printError(#"{"level":"info","msg":"streamgate \#(StreamgateVersion.string) listening on \#(bound.map(\.description).joined(separator: ", "))\#(gateway.adminBoundAddress.map { " (admin \($0))" } ?? "") with \#(workers) workers; open-file limit \#(fdLimit) allows about \#(streams) concurrent streams per process","config_sha256":"\#(loaded.digest)"}"#)
        control.run()
        gateway.wait()
        _ = term; _ = intr; _ = hup; _ = usr1
        if let pidFile { unlink(pidFile) }
        printError(#"{"level":"info","msg":"streamgate drained and stopped"}"#)
        return 0
    }

    /// SIGHUP: validate the file completely, then apply it or report every error and keep
    /// the config in force. Settings fixed for the process's life are reported, not applied.
    static func reloadNow(gateway: Gateway, configPath: String, running: GatewayConfig, workers: Int) {
        switch load(configPath: configPath) {
        case .failure(let failure):
            let errors = failure.messages
            gateway.reloadFailed()
            let list = errors.map { jsonEscaped($0) }.joined(separator: ",")
            printError(#"{"level":"error","msg":"reload refused: the config has \#(errors.count) error\#(errors.count == 1 ? "" : "s"); the running config stays in force","errors":[\#(list)]}"#)
        case .success(let loaded):
            var fixed: [String] = []
            if loaded.config.gateway.workers != running.gateway.workers { fixed.append("workers") }
            if loaded.config.admin != running.admin { fixed.append("[admin]") }
            if loaded.config.gateway.accessLog != running.gateway.accessLog { fixed.append("access_log") }
            if loaded.config.gateway.pidFile != running.gateway.pidFile { fixed.append("pid_file") }
            do {
                try gateway.reload(settings: loaded.settings, listenAddresses: loaded.listenAddresses,
                                   drainTimeout: loaded.config.gateway.drainTimeout, configDigest: loaded.digest)
            } catch {
                gateway.reloadFailed()
                printError(#"{"level":"error","msg":"reload refused: \#(jsonEscaped("\(error)")); the running config stays in force"}"#)
                return
            }
            let note = fixed.isEmpty ? "" : "; changes to \(fixed.joined(separator: ", ")) take effect at the next restart"
            printError(#"{"level":"info","msg":"config reloaded\#(jsonEscaped(note, quoted: false))","config_sha256":"\#(loaded.digest)"}"#)
        }
    }

    /// Writes the pid through a temporary file and a rename, so a reader never sees it half written.
    static func writePIDFile(_ path: String) -> Bool {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        let ok = ProcessLimits.writeAll(fd: fd, Array("\(getpid())\n".utf8))
        close(fd)
        guard ok, rename(tmp, path) == 0 else { unlink(tmp); return false }
        return true
    }

    static func jsonEscaped(_ s: String, quoted: Bool = true) -> String {
        var out: [UInt8] = []
        JSON.appendQuoted(s, to: &out)
        let text = String(decoding: out, as: UTF8.self)
        return quoted ? text : String(text.dropFirst().dropLast())
    }
}
