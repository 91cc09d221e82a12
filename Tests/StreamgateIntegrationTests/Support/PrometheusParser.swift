import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One sample as the reference parser read it.
struct PromSample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// `/metrics` text read by a real Prometheus parser: the Python client's
/// `prometheus_client.parser.text_string_to_metric_families` (Debian `python3-prometheus-client`,
/// installed by scripts/install-deps.sh), run as a child process on the scraped text. On top of
/// what the parser refuses, the script fails on what Prometheus would reject or our conventions
/// forbid: a family or a series twice, a family without TYPE or HELP, histogram buckets that are not
/// cumulative or lack `+Inf` = `_count`, a counter not named `_total`, a histogram not in
/// `_seconds`, a negative or NaN value, text not ending in a newline.
enum PrometheusParser {
    static let script = #"""
        import json, math, sys
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as e:
            print("cannot import prometheus_client: %s" % e, file=sys.stderr)
            sys.exit(3)
        text = open(sys.argv[1], encoding="utf-8").read()
        problems = []
        if not text.endswith("\n"):
            problems.append("the text does not end with a newline")
        typed = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")]
        for name in sorted(set(n for n in typed if typed.count(n) > 1)):
            problems.append("TYPE given twice for %s" % name)
        try:
            families = list(text_string_to_metric_families(text))
        except Exception as e:
            print("parse error: %r" % (e,), file=sys.stderr)
            sys.exit(2)
        out, seen, series = [], set(), set()
        for f in families:
            if f.name in seen:
                problems.append("family %s appears twice" % f.name)
            seen.add(f.name)
            if f.type == "unknown":
                problems.append("family %s has no TYPE" % f.name)
            if not f.documentation:
                problems.append("family %s has no HELP" % f.name)
            if f.type == "histogram" and not f.name.endswith("_seconds"):
                problems.append("histogram %s is not in seconds" % f.name)
            hist = {}
            for s in f.samples:
                if f.type == "counter" and not s.name.endswith("_total"):
                    problems.append("counter sample %s does not end in _total" % s.name)
                if math.isnan(s.value) or s.value < 0:
                    problems.append("%s%r has value %r" % (s.name, s.labels, s.value))
                out.append([s.name, s.labels, s.value])
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in series:
                    problems.append("sample %s%r appears twice" % key)
                series.add(key)
                if f.type == "histogram":
                    key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                    h = hist.setdefault(key, {"buckets": [], "count": None})
                    if s.name.endswith("_bucket"):
                        h["buckets"].append((float(s.labels["le"]), s.value))
                    elif s.name.endswith("_count"):
                        h["count"] = s.value
            for key, h in hist.items():
                b = h["buckets"]
                les = [le for le, _ in b]
                if not b or les[-1] != math.inf:
                    problems.append("%s%r has no +Inf bucket" % (f.name, key))
                elif h["count"] != b[-1][1]:
                    problems.append("%s%r: +Inf bucket %r != _count %r" % (f.name, key, b[-1][1], h["count"]))
                if les != sorted(set(les)):
                    problems.append("%s%r: le values not ascending" % (f.name, key))
                if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                    problems.append("%s%r: buckets not cumulative" % (f.name, key))
        if problems:
            print("\n".join(problems), file=sys.stderr)
            sys.exit(2)
        json.dump(out, sys.stdout)
        """#

    /// Parses `text`; throws with the parser's complaint, or when no python3 with
    /// prometheus_client exists (a failure, not a skip: install-deps.sh installs it).
    static func parse(_ text: String) throws -> [PromSample] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sg-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("metrics.txt").path
        let output = dir.appendingPathComponent("out.json").path
        let errors = dir.appendingPathComponent("err.txt").path
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        var tried: [String] = []
        for python in candidates() {
            tried.append(python)
            let pid = try ChildProcess.spawn(python, ["-c", script, input], stdout: .file(output), stderr: .file(errors))
            let status = ChildProcess.reap(pid)
            let exit = (status >> 8) & 0xFF
            let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            if status & 0x7F == 0 && exit == 3 { continue }  // this python lacks the module: try the next
            guard status & 0x7F == 0, exit == 0 else {
                throw TestError("the Prometheus parser (\(python)) refused /metrics (exit \(exit)):\n\(stderr)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: output))
            guard let rows = try JSONSerialization.jsonObject(with: data) as? [[Any]] else { throw TestError("parser output is not a list") }
            return try rows.map { row in
                guard row.count == 3, let name = row[0] as? String, let labels = row[1] as? [String: String],
                      let value = (row[2] as? NSNumber)?.doubleValue else { throw TestError("bad parser row \(row)") }
                return PromSample(name: name, labels: labels, value: value)
            }
        }
        throw TestError("""
            no python3 with prometheus_client found (tried \(tried.joined(separator: ", "))): \
            install the Debian package python3-prometheus-client (scripts/install-deps.sh does)
            """)
    }

    /// Debian's python3 first (where apt installs the module; a pyenv shim earlier on PATH
    /// would not see it), then every python3 on PATH.
    private static func candidates() -> [String] {
        var list = ["/usr/bin/python3"]
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            list.append("\(dir)/python3")
        }
        var seen = Set<String>()
        return list.filter { FileManager.default.isExecutableFile(atPath: $0) && seen.insert($0).inserted }
    }
}

extension Array where Element == PromSample {
    /// The value of the sample with exactly this name and these labels (nil if absent).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { $0.name == name && $0.labels == labels }?.value
    }

    /// Sum over every sample of `name` whose labels include `matching`.
    func sum(_ name: String, matching: [String: String] = [:]) -> Double {
        filter { s in s.name == name && matching.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }
}
