/// Byte counts as operators write them: `"64KiB"`, `"1MiB"`, `"2GiB"` (binary), `"10KB"`,
/// `"10MB"`, `"1GB"` (decimal), `"512B"` or `"512"` (bytes). TOML integers are bytes too.
public enum ByteSize {
    /// The byte count, or nil when `text` is not a size.
    public static func parse(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        var i = 0
        var number = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = number.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            number = a
            i += 1
        }
        guard i > 0 else { return nil }
        let unit = String(decoding: bytes[i...], as: UTF8.self)
        guard let multiplier = multipliers[unit] else { return nil }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : value
    }

    /// Largest exact binary unit, e.g. `"64KiB"`, `"1MiB"`, `"1000B"`: used by `describe()`.
    public static func format(_ count: Int) -> String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where count != 0 && count % size == 0 {
            return "\(count / size)\(unit)"
        }
        return "\(count)B"
    }

    // Case matters: "Mb" would be megabits, so only the conventional spellings are accepted.
    private static let multipliers: [String: Int] = [
        "": 1, "B": 1,
        "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000,
        "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
    ]
}
