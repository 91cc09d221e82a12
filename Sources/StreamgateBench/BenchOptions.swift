import ArgumentParser
import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

/// Command-line options of `streamgate-bench`.
struct BenchOptions: Sendable {
    enum Mode: String, Sendable { case sse, plain }

    var mode = Mode.sse
    var url = "http://127.0.0.1:8080/events?rate=1"
    var streams = 100
    /// New connections per second; 0 = as fast as possible.
    var ramp: Double = 0
    var durationSeconds: Double = 10
    /// SSE: events in the first `warmupSeconds` (connects, TLS handshakes) are neither counted
    /// nor timed; events/s is over the rest of the run.
    var warmupSeconds: Double = 0
    var threads = 1
    var tokens: [String] = []
    var sourceIPs: [String] = []
    var json = false
    var connectTimeoutSeconds: Double = 10
    /// TLS to the target (`--tls`, or an `https://` URL).
    var tls = false
    /// PEM CA bundle to verify the target with (nil: the system store).
    var caFile: String?
    /// No certificate verification (`--insecure`).
    var insecure = false
    /// SNI and the name verified (`--server-name`; default: the URL's host).
    var serverName: String?

    // Derived from `url`.
    var hostPort = ""
    var requestTarget = "/"

    /// Splits `url` into `hostPort` and `requestTarget` (an `https://` URL turns `tls` on);
    /// false unless it is `http[s]://HOST[:PORT][/PATH]`.
    mutating func resolveURL() -> Bool {
        let scheme: String
        if url.hasPrefix("http://") { scheme = "http://" } else if url.hasPrefix("https://") { scheme = "https://"; tls = true } else { return false }
        let rest = url.dropFirst(scheme.count)
        if let slash = rest.firstIndex(of: "/") {
            hostPort = String(rest[..<slash])
            requestTarget = String(rest[slash...])
        } else {
            hostPort = String(rest)
            requestTarget = "/"
        }
        guard !hostPort.isEmpty else { return false }
        if !hostPort.contains(":") { hostPort += tls ? ":443" : ":80" }
        return true
    }

    /// The host part of `hostPort` (brackets of an IPv6 literal removed): the default TLS name.
    var host: String {
        var h = hostPort
        if let colon = h.lastIndex(of: ":") { h = String(h[..<colon]) }
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        return h
    }

    /// "60s", "500ms", "2m", "1h", or bare seconds.
    static func parseDuration(_ s: String) -> Double? {
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where s.hasSuffix(suffix) {
            return Double(s.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(s)
    }

    static func readLines(_ path: String) -> [String]? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: " \t\r") }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}


/// The command line of `streamgate-bench`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamgate-bench",
        abstract: "SSE and request/response load generator.",
        discussion: """
            SSE mode holds --streams event streams open (opened at --ramp per second, 0 = all at once).
            Plain mode runs --connections keep-alive request/response loops (same flag as --streams).
            """)

    @Option(help: "sse or plain.") var mode = "sse"
    @Option(help: ArgumentHelp("Target, http://HOST:PORT/PATH.", valueName: "url")) var url = "http://127.0.0.1:8080/events?rate=1"
    @Option(name: [.customLong("streams"), .customLong("connections")], help: "Streams (SSE) or connections (plain).") var streams = 100
    @Option(help: ArgumentHelp("New connections per second; 0 = as fast as possible.", valueName: "conn-per-s")) var ramp: Double = 0
    @Option(help: "Run time: 60s, 500ms, 2m, 1h, or bare seconds.") var duration = "10s"
    @Option(help: "SSE: leave the first part of the run (connects, TLS handshakes) out of the event count and latencies, e.g. 5s.")
    var warmup = "0s"
    @Option(help: "Event-loop threads, 1...256.") var threads = 1
    @Option(help: ArgumentHelp("A file of bearer tokens, one a line, used round-robin.", valueName: "file")) var tokens: String?
    @Option(name: .customLong("source-ips"), help: ArgumentHelp("Local addresses to connect from, comma-separated.", valueName: "a,b,..."))
    var sourceIPs: String?
    @Option(name: .customLong("source-ip-count"), help: ArgumentHelp("Connect from 127.0.0.1 ... 127.x.y.K.", valueName: "k"))
    var sourceIPCount: Int?
    @Option(name: .customLong("connect-timeout"), help: "Connect timeout, e.g. 5s.") var connectTimeout = "10s"
    @Flag(help: "Print only the JSON summary.") var json = false
    @Flag(help: "Connect with TLS (implied by an https:// URL).") var tls = false
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("PEM CA certificates to verify the target with (default: the system store).", valueName: "file"))
    var caFile: String?
    @Flag(help: "TLS without certificate verification.") var insecure = false
    @Option(name: .customLong("server-name"), help: ArgumentHelp("TLS name to send (SNI) and verify; default: the URL's host.", valueName: "name"))
    var serverName: String?

    func validate() throws {
        guard BenchOptions.Mode(rawValue: mode) != nil else { throw ValidationError("--mode is sse or plain") }
        guard streams >= 1 else { throw ValidationError("--streams needs a positive number") }
        guard ramp >= 0 else { throw ValidationError("--ramp needs a number >= 0") }
        guard let d = BenchOptions.parseDuration(duration), d > 0 else { throw ValidationError("--duration needs e.g. 60s, 500ms, 2m") }
        guard let w = BenchOptions.parseDuration(warmup), w >= 0, w < BenchOptions.parseDuration(duration)! else {
            throw ValidationError("--warmup needs e.g. 5s, shorter than --duration")
        }
        guard let t = BenchOptions.parseDuration(connectTimeout), t > 0 else { throw ValidationError("--connect-timeout needs e.g. 5s") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads needs 1...256") }
        guard sourceIPs == nil || sourceIPCount == nil else { throw ValidationError("give --source-ips or --source-ip-count, not both") }
        if let k = sourceIPCount, !(1..<(1 << 24)).contains(k) { throw ValidationError("--source-ip-count needs 1...16M") }
        var probe = BenchOptions()
        probe.url = url
        guard probe.resolveURL() else { throw ValidationError("--url must be http[s]://HOST[:PORT][/PATH]") }
        guard !(insecure && caFile != nil) else { throw ValidationError("give --ca-file or --insecure, not both") }
        if !(tls || probe.tls) && (insecure || caFile != nil || serverName != nil) {
            throw ValidationError("--ca-file, --insecure and --server-name need --tls or an https:// URL")
        }
    }

    func run() throws {
        var o = BenchOptions()
        o.mode = BenchOptions.Mode(rawValue: mode)!
        o.url = url
        o.tls = tls
        _ = o.resolveURL()
        o.caFile = caFile
        o.insecure = insecure
        o.serverName = serverName
        o.streams = streams
        o.ramp = ramp
        o.durationSeconds = BenchOptions.parseDuration(duration)!
        o.warmupSeconds = BenchOptions.parseDuration(warmup)!
        o.connectTimeoutSeconds = BenchOptions.parseDuration(connectTimeout)!
        o.threads = threads
        o.json = json
        if let tokens {
            guard let lines = BenchOptions.readLines(tokens) else { throw ValidationError("--tokens: cannot read \(tokens)") }
            o.tokens = lines.filter { !$0.isEmpty }
            if o.tokens.isEmpty { throw ValidationError("--tokens: \(tokens) has no tokens") }
        }
        if let sourceIPs { o.sourceIPs = sourceIPs.split(separator: ",").map(String.init) }
        if let k = sourceIPCount { o.sourceIPs = (1...k).map { "127.\(($0 >> 16) & 255).\(($0 >> 8) & 255).\($0 & 255)" } }
        BenchRunner.run(o)
    }
}
