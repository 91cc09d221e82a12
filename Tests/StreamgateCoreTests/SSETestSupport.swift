// Test-only helpers for the SSE tests: a straightforward WHATWG event-stream parser (the
// reference the tracker is checked against), an independent boundary oracle, a seeded RNG and
// a generator of random event streams.

/// One dispatched event, as a browser's `EventSource` would deliver it.
struct RefEvent: Equatable, CustomStringConvertible {
    var type: String
    var data: String
    var lastEventID: String
    var description: String { "(\(type) \(data.debugDescription) id=\(lastEventID.debugDescription))" }
}

/// A line of the stream: content range and terminator length (0 = unterminated tail).
private struct RefLine {
    var start: Int
    var end: Int
    var terminator: Int
}

/// WHATWG HTML §9.2.6, written for clarity rather than speed: split into lines, then
/// interpret fields. Deliberately shares no code with `SSEBoundaryTracker`.
enum SSEReference {
    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Splits at CRLF, LF or CR. A CR at the very end of the stream ends its line (the stream
    /// is over, no LF can follow). An unterminated tail is returned with terminator 0.
    private static func lines(_ bytes: [UInt8]) -> (bodyStart: Int, lines: [RefLine]) {
        let start = bytes.starts(with: bom) ? 3 : 0
        var out: [RefLine] = []
        var lineStart = start
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A {
                out.append(RefLine(start: lineStart, end: i, terminator: 1))
                i += 1
                lineStart = i
            } else if b == 0x0D {
                let crlf = i + 1 < bytes.count && bytes[i + 1] == 0x0A
                out.append(RefLine(start: lineStart, end: i, terminator: crlf ? 2 : 1))
                i += crlf ? 2 : 1
                lineStart = i
            } else {
                i += 1
            }
        }
        if lineStart < bytes.count { out.append(RefLine(start: lineStart, end: bytes.count, terminator: 0)) }
        return (start, out)
    }

    private static func field(_ line: ArraySlice<UInt8>) -> (name: String, value: String)? {
        if line.first == UInt8(ascii: ":") { return nil }
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            var value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            return (String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        return (String(decoding: line, as: UTF8.self), "")
    }

    /// The events a client dispatches for the whole stream, and its last event ID buffer at
    /// the end (nil if no `id` line was ever accepted).
    static func parse(_ bytes: [UInt8]) -> (events: [RefEvent], idBuffer: String?) {
        var events: [RefEvent] = []
        var data = ""
        var type = ""
        var idBuffer: String?
        var lastEventID = ""
        for line in lines(bytes).lines where line.terminator > 0 {
            let content = bytes[line.start..<line.end]
            if content.isEmpty {
                lastEventID = idBuffer ?? ""
                if data.isEmpty {
                    type = ""
                    continue
                }
                if data.hasSuffix("\n") { data.removeLast() }
                events.append(RefEvent(type: type.isEmpty ? "message" : type, data: data, lastEventID: lastEventID))
                data = ""
                type = ""
                continue
            }
            guard let (name, value) = field(content) else { continue }
            switch name {
            case "event": type = value
            case "data": data += value + "\n"
            case "id": if !value.contains("\0") { idBuffer = value }
            default: break  // retry and unknown fields do not touch the buffers
            }
        }
        return (events, idBuffer)
    }

    /// Offsets p (0...count) where inserting a keepalive changes nothing: the start (and just
    /// after a BOM), and the end of each complete line after which no data/event/id field is
    /// pending. A CR that ends the stream is excluded: the next read could start with LF.
    static func boundaries(_ bytes: [UInt8]) -> Set<Int> {
        let (bodyStart, lines) = lines(bytes)
        var result: Set<Int> = [0, bodyStart]
        var inEvent = false
        for line in lines where line.terminator > 0 {
            let content = bytes[line.start..<line.end]
            if content.isEmpty {
                inEvent = false
            } else if let (name, _) = field(content), ["data", "event", "id"].contains(name) {
                inEvent = true
            }
            let after = line.end + line.terminator
            let trailingCR = after == bytes.count && line.terminator == 1 && bytes[line.end] == 0x0D
            if !inEvent && !trailingCR { result.insert(after) }
        }
        return result
    }
}

/// SplitMix64: small, seeded, reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum SSEStreamGenerator {
    private static let valuePieces = ["a", "b", " ", ":", "é", "😀", "d", "id", "data", "x y", "  "]
    private static let linePrefixes = [
        "data: ", "data:", "data", "event: ", "event:", "id: ", "id:", "id", "retry: ", ": ", ":",
        "foo: ", "dat: ", "datax: ", "ev", "eventt: ", "i", "idd: ", "\u{FEFF}data: ", "d", "e",
    ]
    private static let terminators: [[UInt8]] = [[0x0A], [0x0D, 0x0A], [0x0D]]

    /// A random, mostly well-formed event stream: any byte sequence is a valid SSE stream,
    /// this one just hits the interesting lines often.
    static func stream(_ rng: inout SeededRNG, lines: Int) -> [UInt8] {
        var out: [UInt8] = []
        if Int.random(in: 0..<6, using: &rng) == 0 { out += SSEReference.bom }
        for _ in 0..<lines {
            if Int.random(in: 0..<3, using: &rng) == 0 {
                // Blank line: dispatch.
            } else {
                var line = linePrefixes.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 0..<4, using: &rng) { line += valuePieces.randomElement(using: &rng)! }
                if Int.random(in: 0..<20, using: &rng) == 0 { line += "\0" }
                out += Array(line.utf8)
            }
            out += terminators.randomElement(using: &rng)!
        }
        if Int.random(in: 0..<4, using: &rng) == 0 { out += Array("data: tail".utf8) }  // unterminated
        return out
    }

    /// Random cut points splitting `count` bytes into reads (some of them single bytes).
    static func splits(_ rng: inout SeededRNG, count: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var i = 0
        while i < count {
            let n = Int.random(in: 1...max(1, min(count - i, Int.random(in: 0..<3, using: &rng) == 0 ? 1 : 17)), using: &rng)
            ranges.append(i..<(i + n))
            i += n
        }
        return ranges
    }
}

/// UTF-8 bytes of a string literal.
func sseBytes(_ s: String) -> [UInt8] { Array(s.utf8) }
