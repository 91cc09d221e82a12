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

    /// `streamgate check`: 0 when valid (route table printed), 1 with every error listed.
    public static func check(configPath: String) -> Int32 {
        switch ConfigLoader.load(path: configPath, environment: environment()) {
        case .failure(let errors):
            printError(errors.description)
            printError("\(configPath): \(errors.errors.count) error\(errors.errors.count == 1 ? "" : "s")")
            return 1
        case .success(let config):
            do {
                _ = try ProxySettings(config: config)
            } catch {
                printError(error.description)
                return 1
            }
            print(config.describe())
            return 0
        }
    }

    /// `streamgate run`: serves until SIGTERM/SIGINT, then drains and returns 0.
    public static func run(configPath: String) -> Int32 {
        let config: GatewayConfig
        switch ConfigLoader.load(path: configPath, environment: environment()) {
        case .failure(let errors):
            printError(errors.description)
            return 1
        case .success(let c): config = c
        }
        let settings: ProxySettings
        do { settings = try ProxySettings(config: config) } catch {
            printError(error.description)
            return 1
        }
        let fdLimit = ProcessLimits.raiseOpenFileLimit()
        let workers: Int
        switch config.gateway.workers {
        case .auto: workers = ProcessLimits.cpuCount
        case .count(let n): workers = n
        }
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
        }
        var addresses: [SocketAddress] = []
        for l in config.listeners {
            do { addresses.append(try SocketAddress.resolve(l.address.description)) } catch {
                printError("\(configPath): listener \(l.address): \(error)")
                return 1
            }
        }
        var admin: SocketAddress?
        if let a = config.admin {
            do { admin = try SocketAddress.resolve(a.address.description) } catch {
                printError("\(configPath): admin \(a.address): \(error)")
                return 1
            }
        }
        let gateway = Gateway(settings: settings, options: GatewayOptions(
            workers: workers, listenAddresses: addresses, drainTimeout: config.gateway.drainTimeout, accessLog: accessLog,
            adminAddress: admin))
        let bound: [SocketAddress]
        do { bound = try gateway.start() } catch {
            printError("streamgate: \(error)")
            return 1
        }
        // Each proxied stream holds two descriptors (client + upstream).
        let streams = max(0, (fdLimit - 64) / 2)
        let control = EventLoop()
        let stop = {
            gateway.drain()
            control.stop()
        }
        let term = SignalWatcher(loop: control, signal: SIGTERM, stop)
        let intr = SignalWatcher(loop: control, signal: SIGINT, stop)
        printError(#"{"level":"info","msg":"streamgate \#(StreamgateVersion.string) listening on \#(bound.map(\.description).joined(separator: ", "))\#(gateway.adminBoundAddress.map { " (admin \($0))" } ?? "") with \#(workers) workers; open-file limit \#(fdLimit) allows about \#(streams) concurrent streams per process"}"#)
        control.run()
        gateway.wait()
        _ = term; _ = intr
        printError(#"{"level":"info","msg":"streamgate drained and stopped"}"#)
        return 0
    }
}
