/// Durations as operators write them: `"250ms"`, `"15s"`, `"5m"`, `"1h"`, `"1d"`, and compounds
/// such as `"1m30s"` or `"1h30m"`. `"0"` alone is accepted as zero; every other number needs a
/// unit, because a bare `30` is ambiguous (seconds? milliseconds?).
public enum DurationSyntax {
    /// The parsed duration, or nil when `text` is not a duration.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var total: Int64 = 0 // milliseconds
        var i = 0
        var lastUnitRank = Int.max
        while i < bytes.count {
            var number: Int64 = 0
            let digitsStart = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                let (m, o1) = number.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                number = a
                i += 1
            }
            guard i > digitsStart else { return nil }
            let unitStart = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "a"), bytes[i] <= UInt8(ascii: "z") { i += 1 }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            guard let (milliseconds, rank) = unitTable[unit] else { return nil }
            // Units must go from large to small and appear once ("1m30s", not "30s1m").
            guard rank < lastUnitRank else { return nil }
            lastUnitRank = rank
            let (part, o1) = number.multipliedReportingOverflow(by: milliseconds)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// Shortest exact rendering, e.g. `"1m30s"`, `"250ms"`, `"0s"`: used by `describe()`.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.milliseconds
        if ms == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] where ms >= size {
            out += "\(ms / size)\(unit)"
            ms %= size
        }
        return out
    }

    /// unit -> (milliseconds, rank); a higher rank is a larger unit.
    private static let unitTable: [String: (Int64, Int)] = [
        "ms": (1, 0), "s": (1_000, 1), "m": (60_000, 2), "h": (3_600_000, 3), "d": (86_400_000, 4),
    ]
}
