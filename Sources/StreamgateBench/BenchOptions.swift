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
    var threads = 1
    var tokens: [String] = []
    var sourceIPs: [String] = []
    var json = false
    var connectTimeoutSeconds: Double = 10

    // Derived from `url`.
    var hostPort = ""
    var requestTarget = "/"

    static let usage = """
    usage: streamgate-bench [--mode sse|plain] --url http://HOST:PORT/PATH [options]
      SSE mode:   --streams N (100)  --ramp CONN_PER_S (0 = all at once)
      plain mode: --connections C (same as --streams; keep-alive request/response loops)
      common:     --duration 60s (10s)  --threads T (1)  --tokens FILE (Bearer, round-robin)
                  --source-ips 127.0.0.1,127.0.0.2  |  --source-ip-count K (127.0.0.1..K)
                  --connect-timeout 10s  --json (print only the JSON summary)
    """

    static func parse(_ arguments: [String]) -> Result<BenchOptions, BenchUsageError> {
        var o = BenchOptions()
        var it = arguments.makeIterator()
        func value(_ flag: String) throws(BenchUsageError) -> String {
            guard let v = it.next() else { throw BenchUsageError("\(flag) needs a value") }
            return v
        }
        do throws(BenchUsageError) {
            while let arg = it.next() {
                switch arg {
                case "--mode":
                    let v = try value(arg)
                    guard let m = Mode(rawValue: v) else { throw BenchUsageError("--mode is sse or plain") }
                    o.mode = m
                case "--url": o.url = try value(arg)
                case "--streams", "--connections":
                    guard let n = Int(try value(arg)), n >= 1 else { throw BenchUsageError("\(arg) needs a positive number") }
                    o.streams = n
                case "--ramp":
                    guard let r = Double(try value(arg)), r >= 0 else { throw BenchUsageError("--ramp needs a number >= 0") }
                    o.ramp = r
                case "--duration":
                    guard let d = parseDuration(try value(arg)), d > 0 else { throw BenchUsageError("--duration needs e.g. 60s, 500ms, 2m") }
                    o.durationSeconds = d
                case "--connect-timeout":
                    guard let d = parseDuration(try value(arg)), d > 0 else { throw BenchUsageError("--connect-timeout needs e.g. 5s") }
                    o.connectTimeoutSeconds = d
                case "--threads":
                    guard let n = Int(try value(arg)), n >= 1, n <= 256 else { throw BenchUsageError("--threads needs 1...256") }
                    o.threads = n
                case "--tokens":
                    let path = try value(arg)
                    guard let lines = readLines(path) else { throw BenchUsageError("cannot read \(path)") }
                    o.tokens = lines.filter { !$0.isEmpty }
                    if o.tokens.isEmpty { throw BenchUsageError("\(path) has no tokens") }
                case "--source-ips":
                    o.sourceIPs = try value(arg).split(separator: ",").map { String($0) }
                case "--source-ip-count":
                    guard let k = Int(try value(arg)), k >= 1, k < 1 << 24 else { throw BenchUsageError("--source-ip-count needs 1...16M") }
                    o.sourceIPs = (1...k).map { "127.\(($0 >> 16) & 255).\(($0 >> 8) & 255).\($0 & 255)" }
                case "--json": o.json = true
                case "-h", "--help": throw BenchUsageError("")
                default: throw BenchUsageError("unknown argument \(arg)")
                }
            }
            guard o.url.hasPrefix("http://") else { throw BenchUsageError("--url must start with http://") }
            let rest = o.url.dropFirst("http://".count)
            if let slash = rest.firstIndex(of: "/") {
                o.hostPort = String(rest[..<slash])
                o.requestTarget = String(rest[slash...])
            } else {
                o.hostPort = String(rest)
                o.requestTarget = "/"
            }
            if !o.hostPort.contains(":") { o.hostPort += ":80" }
        } catch {
            return .failure(error)
        }
        return .success(o)
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

struct BenchUsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
