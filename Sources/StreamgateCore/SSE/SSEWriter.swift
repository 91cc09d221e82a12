/// Bytes the gateway itself writes into an event stream. Each value is a whole event or
/// comment ending in a blank line, so it must be written only where `SSEBoundaryTracker`
/// reports a boundary, and leaves the stream at a boundary afterwards.
///
/// Gateway-chosen text can never break the framing: CR and LF are handled in every field
/// (see each function), so an `event:` name or a reason string cannot start a new field.
public enum SSEWriter {
    /// `: keepalive\n\n`. A comment and a blank line: the client dispatches nothing, and
    /// idle-dropping intermediaries see traffic (SSE §9.2.7). Shared storage, no allocation.
    public static func keepalive() -> [UInt8] { keepaliveBytes }

    private static let keepaliveBytes: [UInt8] = Array(": keepalive\n\n".utf8)

    /// `retry: N\n\n`: the client's reconnection delay in milliseconds. `retry:` carries
    /// ASCII digits only, so negative values are written as 0.
    public static func retry(milliseconds: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + 20 + 2)
        out.append(contentsOf: "retry: ".utf8)
        appendDecimal(UInt64(clamping: max(0, milliseconds)), to: &out)
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    /// One complete event: `event: NAME\n` (omitted when `name` is nil or empty after
    /// cleaning), optional `id: ID\n`, then `data: …\n` lines and a blank line.
    ///
    /// - `name` and `id` lose every CR and LF (they are single-line by definition); `id` also
    ///   loses NUL, which would make the client ignore the whole line.
    /// - `data` keeps its meaning: each line of it (split at CRLF, LF or CR) becomes its own
    ///   `data:` line, which the client joins back with LF.
    public static func event(name: String?, data: String, id: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + (name?.utf8.count ?? 0) + (id?.utf8.count ?? 0) + data.utf8.count + 8)
        if let name {
            let cleaned = singleLine(name, dropNUL: false)
            if !cleaned.isEmpty {
                out.append(contentsOf: "event: ".utf8)
                out.append(contentsOf: cleaned)
                out.append(0x0A)
            }
        }
        if let id {
            out.append(contentsOf: "id: ".utf8)
            out.append(contentsOf: singleLine(id, dropNUL: true))
            out.append(0x0A)
        }
        appendDataLines(data, to: &out)
        out.append(0x0A)
        return out
    }

    /// `: TEXT\n\n`, a comment for humans reading the stream (e.g. why it ended). CR and LF
    /// become spaces so the comment stays one line.
    public static func comment(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: ":"), UInt8(ascii: " ")]
        out.reserveCapacity(text.utf8.count + 4)
        for b in text.utf8 { out.append(b == 0x0A || b == 0x0D ? UInt8(ascii: " ") : b) }
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    // MARK: - Helpers

    private static func singleLine(_ s: String, dropNUL: Bool) -> [UInt8] {
        s.utf8.filter { $0 != 0x0A && $0 != 0x0D && !(dropNUL && $0 == 0) }
    }

    private static func appendDataLines(_ data: String, to out: inout [UInt8]) {
        out.append(contentsOf: "data: ".utf8)
        var afterCR = false
        for b in data.utf8 {
            if b == 0x0A && afterCR {  // the LF of a CRLF: already broke the line
                afterCR = false
                continue
            }
            afterCR = b == 0x0D
            if b == 0x0A || b == 0x0D {
                out.append(0x0A)
                out.append(contentsOf: "data: ".utf8)
            } else {
                out.append(b)
            }
        }
        out.append(0x0A)
    }

    private static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var v = value
        let start = out.count
        while v > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10))
            v /= 10
        }
        out[start...].reverse()
    }
}
