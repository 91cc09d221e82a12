import StreamgateIO
import StreamgateTools

/// The human table and the single JSON line that scripts parse (always the last stdout line).
struct BenchReport {
    let options: BenchOptions
    let result: BenchResult
    let elapsedSeconds: Double

    func print() {
        if !options.json {
            for line in table() { Swift.print(line) }
        }
        ToolsProcess.printFlushed(json())
    }

    private func ms(_ q: Double) -> Double? {
        result.histogram.percentile(q).map { $0 / 1000 }
    }

    private var maxMs: Double? { result.histogram.total > 0 ? Double(result.histogram.max) / 1000 : nil }

    private var rate: Double {
        let n = options.mode == .sse ? result.events : result.requests
        return elapsedSeconds > 0 ? Double(n) / elapsedSeconds : 0
    }

    func table() -> [String] {
        func f(_ v: Double?) -> String { v.map { fmt($0, 3) } ?? "-" }
        var rows: [(String, String)] = [
            ("mode", options.mode.rawValue),
            ("url", options.url),
            ("duration", fmt(elapsedSeconds, 2) + " s"),
            (options.mode == .sse ? "streams" : "connections", "\(options.streams)"),
            ("connects ok", "\(result.connectsOK)"),
            ("connects failed", "\(result.connectsFailed)"),
            ("statuses", result.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
        ]
        if !result.errors.isEmpty {
            rows.append(("errors", result.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
        }
        switch options.mode {
        case .sse:
            rows += [
                ("events", "\(result.events)"),
                ("events/s", fmt(rate, 1)),
                ("comments", "\(result.comments)"),
                ("early closes", "\(result.earlyCloses) (\(result.resets) reset/truncated)"),
                ("open at end", "\(result.openAtEnd)"),
            ]
        case .plain:
            rows += [
                ("requests", "\(result.requests)"),
                ("requests/s", fmt(rate, 1)),
                ("reconnects", "\(result.reconnects)"),
            ]
        }
        rows += [
            ("latency p50", f(ms(0.50)) + " ms"),
            ("latency p90", f(ms(0.90)) + " ms"),
            ("latency p99", f(ms(0.99)) + " ms"),
            ("latency max", f(maxMs) + " ms"),
            ("bytes received", "\(result.bytes)"),
        ]
        let width = rows.map { $0.0.count }.max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }
    }

    func json() -> String {
        func num(_ v: Double?) -> String { v.map { fmt($0, 3) } ?? "null" }
        func dict<K>(_ d: [K: Int]) -> String where K: Comparable & CustomStringConvertible {
            "{" + d.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
        var fields: [String] = [
            "\"mode\":\"\(options.mode.rawValue)\"",
            "\"url\":\"\(options.url.replacingQuotes())\"",
            "\"duration_s\":\(fmt(elapsedSeconds, 3))",
            "\"warmup_s\":\(fmt(options.warmupSeconds, 3))",
            "\"\(options.mode == .sse ? "streams" : "connections")\":\(options.streams)",
            "\"threads\":\(options.threads)",
            "\"connects_ok\":\(result.connectsOK)",
            "\"connects_failed\":\(result.connectsFailed)",
            "\"status_counts\":\(dict(result.statuses))",
            "\"errors\":\(dict(result.errors))",
        ]
        switch options.mode {
        case .sse:
            fields += [
                "\"events\":\(result.events)",
                "\"events_per_s\":\(fmt(rate, 1))",
                "\"comments\":\(result.comments)",
                "\"early_closes\":\(result.earlyCloses)",
                "\"resets\":\(result.resets)",
                "\"open_at_end\":\(result.openAtEnd)",
            ]
        case .plain:
            fields += [
                "\"requests\":\(result.requests)",
                "\"requests_per_s\":\(fmt(rate, 1))",
                "\"reconnects\":\(result.reconnects)",
            ]
        }
        fields += [
            "\"latency_ms\":{\"p50\":\(num(ms(0.5))),\"p90\":\(num(ms(0.9))),\"p99\":\(num(ms(0.99))),\"max\":\(num(maxMs))}",
            "\"bytes\":\(result.bytes)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// Fixed-point formatting without Foundation.
func fmt(_ v: Double, _ decimals: Int) -> String {
    guard v.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let r = (abs(v) * scale).rounded()
    let whole = Int64(r / scale)
    let frac = Int64(r - Double(whole) * scale)
    let sign = v < 0 && r > 0 ? "-" : ""
    if decimals == 0 { return "\(sign)\(whole)" }
    let f = String(frac)
    return "\(sign)\(whole)." + String(repeating: "0", count: decimals - f.count) + f
}

extension String {
    func replacingQuotes() -> String {
        var out = ""
        for c in self {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
