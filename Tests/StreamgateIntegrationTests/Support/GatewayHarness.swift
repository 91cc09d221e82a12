import Foundation
@testable import Streamgate
import StreamgateCore
import StreamgateIO

/// Runs a real gateway in-process on port 0 from a TOML config, with the access log in a
/// temporary file the test can read.
final class GatewayHarness {
    let gateway: Gateway
    let port: UInt16
    let accessLogPath: String
    let errorLogPath: String
    private var stopped = false

    /// The admin endpoint's port when started with `admin: true`.
    private(set) var adminPort: UInt16 = 0

    /// `toml` must not contain [[listeners]]: the harness adds one on 127.0.0.1:0, with
    /// `listenerExtra` (more keys of that table, e.g. `trust_forwarded`) inside it.
    init(toml: String, workers: Int = 1, environment: [String: String] = [:], admin: Bool = false,
         listenerExtra: String = "") throws {
        let text = toml + "\n[[listeners]]\naddress = \"127.0.0.1:0\"\n" + listenerExtra + "\n"
        let config: GatewayConfig
        switch ConfigLoader.load(text: text, fileName: "test.toml", environment: environment) {
        case .success(let c): config = c
        case .failure(let e): throw TestError("config: \(e)")
        }
        let settings = try ProxySettings(config: config)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sg-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        accessLogPath = dir.appendingPathComponent("access.log").path
        errorLogPath = dir.appendingPathComponent("error.log").path
        guard let access = LogFile.open(path: accessLogPath), let errors = LogFile.open(path: errorLogPath) else {
            throw TestError("cannot open log files")
        }
        gateway = Gateway(settings: settings, options: GatewayOptions(
            workers: workers, listenAddresses: [try SocketAddress.resolve("127.0.0.1:0")],
            drainTimeout: config.gateway.drainTimeout, accessLog: access, errorLog: errors,
            adminAddress: admin ? try SocketAddress.resolve("127.0.0.1:0") : nil))
        port = try gateway.start()[0].port
        adminPort = gateway.adminBoundAddress?.port ?? 0
    }

    /// Applies a new config as SIGHUP does (`toml` again without [[listeners]] unless
    /// `listeners` replaces the harness's own 127.0.0.1:0 one); returns once every worker uses it.
    func reload(toml: String, listeners: String = "[[listeners]]\naddress = \"127.0.0.1:0\"\n",
                environment: [String: String] = [:]) throws {
        let config: GatewayConfig
        switch ConfigLoader.load(text: toml + "\n" + listeners, fileName: "test.toml", environment: environment) {
        case .success(let c): config = c
        case .failure(let e): throw TestError("config: \(e)")
        }
        let settings = try ProxySettings(config: config)
        let addresses = try config.listeners.map { try SocketAddress.resolve($0.address.description) }
        try gateway.reload(settings: settings, listenAddresses: addresses, drainTimeout: config.gateway.drainTimeout, configDigest: "test")
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        gateway.drain()
        gateway.wait()
    }

    deinit { stop() }

    func client(timeout: Double = 5) throws -> RawClient { try RawClient(port: port, timeout: timeout) }

    /// Access-log lines written so far, parsed (waits briefly for the per-turn flush).
    func accessLog(minLines: Int = 1) -> [[String: Any]] {
        var lines: [[String: Any]] = []
        for _ in 0..<200 {
            let text = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            if lines.count >= minLines { return lines }
            usleep(10_000)
        }
        return lines
    }

    var accessLogText: String { (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? "" }
    var errorLogText: String { (try? String(contentsOfFile: errorLogPath, encoding: .utf8)) ?? "" }
}

/// A basic config routing everything under `/` to one upstream port.
func simpleConfig(upstreamPort: UInt16, extra: String = "", routeExtra: String = "", upstreamExtra: String = "") -> String {
    """
    [gateway]
    workers = 1
    drain_timeout = "2s"
    \(extra)
    [upstreams.up]
    targets = ["127.0.0.1:\(upstreamPort)"]
    connect_timeout = "1s"
    read_timeout = "2s"
    \(upstreamExtra)

    [[routes]]
    name = "all"
    path_prefix = "/"
    upstream = "up"
    \(routeExtra)
    """
}
