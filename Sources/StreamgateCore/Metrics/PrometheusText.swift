/// Builds the Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
/// family, then its samples; label values and help text escaped as the format requires.
/// Run when `/metrics` is scraped, never on the request path.
public struct PrometheusText {
    public private(set) var text = ""

    public init() {}

    public typealias Labels = [(name: String, value: String)]

    /// Starts a family. `type`: counter, gauge or histogram.
    public mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    public mutating func sample(_ name: String, _ labels: Labels = [], _ value: UInt64) {
        text += name
        appendLabels(labels)
        text += " \(value)\n"
    }

    /// A histogram's `_bucket` (cumulative, with `le`), `_sum` (seconds) and `_count` samples.
    public mutating func histogram(_ name: String, _ labels: Labels, _ h: Histogram, buckets: HistogramBuckets) {
        let cumulative = h.cumulative
        for (i, n) in cumulative.enumerated() {
            text += name + "_bucket"
            appendLabels(labels + [("le", i < buckets.labels.count ? buckets.labels[i] : "+Inf")])
            text += " \(n)\n"
        }
        text += name + "_sum"
        appendLabels(labels)
        text += " " + Self.seconds(nanos: h.sumNanos) + "\n"
        text += name + "_count"
        appendLabels(labels)
        text += " \(cumulative.last ?? 0)\n"
    }

    private mutating func appendLabels(_ labels: Labels) {
        guard !labels.isEmpty else { return }
        text += "{"
        for (i, l) in labels.enumerated() {
            if i > 0 { text += "," }
            text += l.name + "=\"" + Self.escapeLabelValue(l.value) + "\""
        }
        text += "}"
    }

    /// Label values: backslash, double quote and line feed are escaped (`\\`, `\"`, `\n`).
    public static func escapeLabelValue(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Help text: backslash and line feed are escaped.
    public static func escapeHelp(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Nanoseconds as exact decimal seconds ("0.0015", "2", "0").
    public static func seconds(nanos: UInt64) -> String {
        let whole = nanos / 1_000_000_000, frac = nanos % 1_000_000_000
        if frac == 0 { return String(whole) }
        var digits = String(frac)
        digits = String(repeating: "0", count: 9 - digits.utf8.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// "0.0005" -> 500_000; nil for anything but plain decimal digits with at most 9 decimals.
    public static func nanoseconds(decimalSeconds s: String) -> UInt64? {
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = UInt64(parts[0]), parts[0].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var nanos = whole.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanos.overflow else { return nil }
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 9, f.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let v = UInt64(f + String(repeating: "0", count: 9 - f.count)) else { return nil }
            nanos = nanos.partialValue.addingReportingOverflow(v)
            guard !nanos.overflow else { return nil }
        }
        return nanos.partialValue
    }
}
